//! The event server over real loopback TCP: sessions as cameras and NVRs
//! produce them, framing variants, loss and callback faults (shutdown:
//! `tests/shutdown.rs`).

mod common;

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use crossbeam_channel::{bounded, unbounded};
use viewtron::{Category, Event, Server, UnparsedReason};

fn localhost() -> viewtron::ServerBuilder {
    Server::builder().bind("127.0.0.1".parse().unwrap()).port(0)
}

#[test]
fn ipc_keepalive_session_on_one_connection() {
    let (tx, rx) = unbounded::<(Event, IpAddr)>();
    let connects = Arc::new(Mutex::new(Vec::new()));
    let raws = Arc::new(AtomicUsize::new(0));
    let (c, r) = (connects.clone(), raws.clone());
    let server = localhost()
        .on_event(move |e, ip| tx.send((e, ip)).unwrap())
        .on_connect(move |ip| c.lock().unwrap().push(ip))
        .on_raw(move |_, _| {
            r.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let mut cam = Camera::connect(server.local_addr());

    // Empty keepalive, written byte by byte.
    cam.write_bytewise(
        b"POST /API HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
    );
    assert_success(&cam.read_response());
    let r = cam.post("/API", LPR_V1);
    assert_success(&r);
    assert_success(&cam.post("/API", TRAJECT));
    assert_success(&cam.post("/API", ""));
    cam.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let get = cam.read_response();
    assert_eq!(get.status, 200);
    assert_eq!(get.text(), "Viewtron event server running");

    // Two workers may finish in either order.
    let mut got: Vec<(Event, IpAddr)> = (0..2).map(|_| rx.recv_timeout(TIMEOUT).unwrap()).collect();
    got.sort_by_key(|(e, _)| e.category());
    let (lpr, ip) = &got[0];
    assert!(ip.is_loopback());
    assert_eq!(lpr.category(), Category::Lpr);
    assert_eq!(lpr.plate_number(), Some("TST 042"));
    let (traject, _) = &got[1];
    assert_eq!(traject.category(), Category::Traject);
    assert_eq!(traject.targets().len(), 2);

    server.shutdown();
    server.wait();
    assert!(rx.try_recv().is_err(), "keepalives are not events");
    assert_eq!(
        connects.lock().unwrap().len(),
        1,
        "one connect per camera IP"
    );
    assert_eq!(
        raws.load(Ordering::SeqCst),
        1,
        "on_raw skips keepalives and traject"
    );
    let stats = server.stats();
    assert_eq!(stats.requests, 5);
    assert_eq!(stats.keepalives, 2);
    assert_eq!(stats.events(), 2);
    assert_eq!(stats.events_by_category[&Category::Traject], 1);
    assert_eq!(stats.cameras.len(), 1);
    assert_eq!(stats.cameras[0].device_name.as_deref(), Some("North Gate"));
}

#[test]
fn nvr_absolute_uri_connection_close_soap() {
    let server = localhost().path("/API").build().unwrap();
    let events = server.events();
    let addr = server.local_addr();
    let mut cam = Camera::connect(addr);
    let req = format!(
        "POST http://{addr}/API HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/soap+xml; charset=utf-8\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{INTRUSION_V2}",
        INTRUSION_V2.len()
    );
    cam.write(req.as_bytes());
    assert_success(&cam.read_response());
    assert!(cam.is_closed(), "Connection: close must close");
    let event = events.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(event.alarm_type(), "regionIntrusion");
    assert_eq!(event.channel(), Some(4));

    // A path outside the configured ones is refused and delivers nothing.
    let mut other = Camera::connect(addr);
    other.write(&post_request("/elsewhere", INTRUSION_V2, "close"));
    assert_eq!(other.read_response().status, 404);
    server.shutdown();
    assert_eq!(events.count(), 0);
    assert_eq!(server.stats().refused, 1);
}

#[test]
fn chunked_expect_continue_pipelined_and_http10() {
    let server = localhost().build().unwrap();
    let events = server.events();
    let addr = server.local_addr();

    // Chunked body in three chunks.
    let mut cam = Camera::connect(addr);
    let (a, b) = INTRUSION_V2.split_at(40);
    let chunked = format!(
        "POST /API HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    cam.write(chunked.as_bytes());
    assert_success(&cam.read_response());
    assert_eq!(
        events.recv_timeout(TIMEOUT).unwrap().alarm_type(),
        "regionIntrusion"
    );

    // Expect: 100-continue: the body is sent only after the interim answer.
    let head = format!(
        "POST /API HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        LPR_V1.len()
    );
    cam.write(head.as_bytes());
    assert_eq!(cam.read_response().status, 100);
    cam.write(LPR_V1.as_bytes());
    assert_success(&cam.read_response());
    assert_eq!(
        events.recv_timeout(TIMEOUT).unwrap().category(),
        Category::Lpr
    );

    // Two pipelined posts in one write: two answers, in order.
    let mut pair = post_request("/API", TRAJECT, "keep-alive");
    pair.extend(post_request("/API", LPR_V1, "keep-alive"));
    cam.write(&pair);
    assert_success(&cam.read_response());
    assert_success(&cam.read_response());
    let mut got: Vec<Category> = (0..2)
        .map(|_| events.recv_timeout(TIMEOUT).unwrap().category())
        .collect();
    got.sort();
    assert_eq!(got, [Category::Lpr, Category::Traject]);

    // HTTP/1.0 without keep-alive: answered, then closed.
    let mut old = Camera::connect(addr);
    let req = format!(
        "POST /API HTTP/1.0\r\nContent-Length: {}\r\n\r\n{LPR_V1}",
        LPR_V1.len()
    );
    old.write(req.as_bytes());
    assert_success(&old.read_response());
    assert!(old.is_closed());
    assert_eq!(
        events.recv_timeout(TIMEOUT).unwrap().category(),
        Category::Lpr
    );

    // An empty chunked post is not a keepalive.
    cam.write(b"POST /API HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert_success(&cam.read_response());
    server.shutdown();
    server.wait();
    let stats = server.stats();
    assert_eq!(stats.parse_errors, 1);
    assert_eq!(stats.keepalives, 0);
}

#[test]
fn methods_other_than_get_and_post_are_refused() {
    let server = localhost().build().unwrap();
    let mut cam = Camera::connect(server.local_addr());
    cam.write(b"DELETE /API HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    let r = cam.read_response();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, HEAD, POST"));
    // The connection still serves cameras.
    assert_success(&cam.post("/API", ""));
}

fn flood(addr: std::net::SocketAddr, connections: usize, per_connection: usize) {
    let threads: Vec<_> = (0..connections)
        .map(|i| {
            std::thread::spawn(move || {
                let mut cam = Camera::connect(addr);
                for n in 0..per_connection {
                    let body = if n % 2 == 0 { LPR_V1 } else { INTRUSION_V2 };
                    let r = cam.post("/API", body);
                    assert_eq!(r.status, 200, "connection {i}, post {n}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn no_loss_with_callbacks() {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let server = localhost()
        .on_event(move |_, _| {
            c.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    flood(server.local_addr(), 16, 625);
    server.shutdown();
    server.wait();
    assert_eq!(count.load(Ordering::SeqCst), 10_000);
    assert_eq!(server.stats().events(), 10_000);
    assert_eq!(server.stats().dropped, 0);
}

#[test]
fn no_loss_through_events_with_a_small_channel() {
    let server = localhost().channel_capacity(8).build().unwrap();
    let addr = server.local_addr();
    let events = server.events();
    let consumer = std::thread::spawn(move || {
        let mut n = 0usize;
        let mut lpr = 0usize;
        for event in events {
            n += 1;
            lpr += usize::from(event.category() == Category::Lpr);
        }
        (n, lpr)
    });
    flood(addr, 16, 625);
    server.shutdown();
    let (n, lpr) = consumer.join().unwrap();
    assert_eq!(n, 10_000);
    assert_eq!(lpr, 16 * 313, "even-numbered posts are LPR");
    assert_eq!(server.stats().dropped, 0);
}

#[test]
fn a_blocked_callback_does_not_delay_the_answer() {
    let (release_tx, release_rx) = bounded::<()>(0);
    let (entered_tx, entered_rx) = bounded::<()>(1);
    let server = localhost()
        .workers(2)
        .on_event(move |_, _| {
            entered_tx.send(()).unwrap();
            // Blocks until the test has seen the camera's answer.
            release_rx.recv_timeout(TIMEOUT).unwrap();
        })
        .build()
        .unwrap();
    let mut cam = Camera::connect(server.local_addr());
    assert_success(&cam.post("/API", LPR_V1));
    entered_rx.recv_timeout(TIMEOUT).unwrap();
    // The callback is still blocked; another camera is served by the other worker.
    let mut other = Camera::connect(server.local_addr());
    assert_success(&other.post("/API", ""));
    release_tx.send(()).unwrap();
}

#[test]
fn a_panicking_callback_keeps_worker_and_connection() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let unparsed = Arc::new(Mutex::new(Vec::new()));
    let u = unparsed.clone();
    let server = localhost()
        .workers(1)
        .on_event(move |_, _| {
            if c.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("user bug");
            }
        })
        .on_unparsed(move |_, _, reason: &UnparsedReason| u.lock().unwrap().push(reason.as_str()))
        .build()
        .unwrap();
    let mut cam = Camera::connect(server.local_addr());
    assert_success(&cam.post("/API", LPR_V1));
    assert_success(&cam.post("/API", LPR_V1));
    assert_success(&cam.post("/API", ALARM_V2));
    assert_success(&cam.post("/API", "<config"));
    server.shutdown();
    server.wait();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(server.stats().callback_panics, 1);
    assert_eq!(*unparsed.lock().unwrap(), ["alarmStatus", "parse-error"]);
}

#[test]
fn handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Server>();
    assert_send_sync::<viewtron::ShutdownHandle>();
    assert_send_sync::<viewtron::Events>();
    assert_send_sync::<viewtron::Stats>();
    assert_send_sync::<Event>();
}
