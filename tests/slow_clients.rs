//! Clients that hold the server with their bodies: a body trickled past its
//! deadline, and one address opening more requests than its cap. Each test
//! plays the client, checks what it gets and what is delivered, and then
//! that a camera is served. Loopback only (clients on their own 127.0.0.x
//! addresses); every wait is bounded.

mod common;

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use crossbeam_channel::{unbounded, Receiver};
use viewtron::{Event, Refusal, Server, ServerBuilder};

const CAMERA: &str = "127.0.0.20";

/// A camera post over 1 KiB: tiny_http reads bodies of up to 1 KiB itself,
/// with the head, before a worker sees the request (so those never hold a
/// worker; see the README's limits). The padding is trailing whitespace,
/// which XML allows after the root element.
fn long_post() -> String {
    format!("{LPR_V1}{}\n", " ".repeat(2000))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

struct Harness {
    server: Server,
    events: Receiver<(Event, IpAddr)>,
}

/// A body timeout's answer: `408`, `Connection: close`, and the connection
/// closed after it.
fn assert_cut_with_408(status: Option<u16>, connection: Option<&str>, closed: bool) {
    assert_eq!(status, Some(408));
    assert_eq!(connection, Some("close"));
    assert!(closed, "the connection is closed after the 408");
}

fn harness(builder: ServerBuilder) -> Harness {
    let (tx, events) = unbounded();
    let server = builder
        .bind(ip("127.0.0.1"))
        .port(0)
        .on_event(move |e, ip| tx.send((e, ip)).unwrap())
        .build()
        .unwrap();
    Harness { server, events }
}

impl Harness {
    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// A camera on its own address posts on a fresh connection: answered
    /// and delivered.
    fn assert_camera_served(&self) {
        let mut cam = Camera::connect_from(self.addr(), ip(CAMERA));
        assert_success(&cam.post("/API", LPR_V1));
        let (event, from) = self.events.recv_timeout(TIMEOUT).expect("event delivered");
        assert_eq!((event.plate_number(), from), (Some("TST 042"), ip(CAMERA)));
    }

    /// The camera was served, one body was cut at its deadline, and only
    /// the camera's post was delivered.
    fn assert_only_the_camera_delivered_after_one_body_timeout(&self) {
        self.assert_camera_served();
        let stats = self.finish();
        assert_eq!(
            stats.refused_by_reason[&Refusal::BodyTimeout],
            1,
            "{stats:?}"
        );
        assert_eq!(stats.events(), 1, "only the camera's post: {stats:?}");
    }

    fn finish(&self) -> viewtron::Stats {
        self.server.shutdown();
        self.server.wait();
        self.server.stats()
    }
}

/// A POST head for `body`, sent from `source`; the body is up to the caller.
fn head_from(addr: SocketAddr, source: &str, body: &str) -> TcpStream {
    let mut s = connect_from(addr, ip(source));
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        s,
        "POST /API HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s
}

fn status_of(s: &mut TcpStream) -> Option<u16> {
    let mut reader = std::io::BufReader::new(s);
    read_response(&mut reader).map(|r| r.status)
}

/// The status and `Connection` header of the answer, and whether the server
/// then closed the connection (EOF within the read timeout).
fn answer_and_close(s: &mut TcpStream) -> (Option<u16>, Option<String>, bool) {
    let mut reader = std::io::BufReader::new(s);
    let Some(answer) = read_response(&mut reader) else {
        return (None, None, false);
    };
    let mut rest = [0u8; 64];
    let closed = matches!(std::io::Read::read(&mut reader, &mut rest), Ok(0));
    (
        Some(answer.status),
        answer.header("Connection").map(str::to_owned),
        closed,
    )
}

#[test]
fn a_body_trickled_past_its_deadline_is_answered_408_and_never_delivered() {
    let h = harness(Server::builder().body_timeout(Duration::from_secs(1)));
    // A complete, valid post, one byte every 50 ms: 2.4 KB would take
    // two minutes; each read returns at once, so only the deadline stops it.
    let post = long_post();
    let mut s = head_from(h.addr(), "127.0.0.2", &post);
    let started = Instant::now();
    let mut writer = s.try_clone().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let trickle = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            for b in post.bytes() {
                if stop.load(Ordering::SeqCst) || writer.write_all(&[b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let (status, connection, closed) = answer_and_close(&mut s);
    let took = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    assert_cut_with_408(status, connection.as_deref(), closed);
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(3),
        "408 after {took:?}"
    );
    drop(s);
    trickle.join().unwrap();
    h.assert_only_the_camera_delivered_after_one_body_timeout();
}

#[test]
fn a_stalled_body_is_cut_at_its_deadline_not_at_the_read_timeout() {
    let h = harness(
        Server::builder()
            .read_timeout(Duration::from_secs(20))
            .body_timeout(Duration::from_secs(1)),
    );
    // A head and a few bytes of the body, then nothing: the worker's read
    // waits on the socket, where no deadline check can run.
    let post = long_post();
    let mut s = head_from(h.addr(), "127.0.0.2", &post);
    s.write_all(&post.as_bytes()[..10]).unwrap();
    let started = Instant::now();
    let (status, connection, closed) = answer_and_close(&mut s);
    let took = started.elapsed();
    assert_cut_with_408(status, connection.as_deref(), closed);
    // The watch shuts the socket's reading side at the deadline (in a
    // container too: `tests/seccomp/deny-pidfd-getfd.py` runs this there).
    let limit = Duration::from_secs(3);
    assert!(
        took >= Duration::from_secs(1) && took < limit,
        "408 after {took:?}"
    );
    h.assert_only_the_camera_delivered_after_one_body_timeout();
}

#[test]
fn one_address_gets_its_cap_of_requests_in_progress_and_no_more() {
    let h = harness(Server::builder().max_per_address(2));
    // Two requests whose bodies never come hold two workers...
    let held: Vec<TcpStream> = (0..2)
        .map(|_| head_from(h.addr(), "127.0.0.2", &long_post()))
        .collect();
    // ...(once both are in progress: taken, and their bodies awaited)...
    let deadline = Instant::now() + TIMEOUT;
    while h.server.stats().in_progress < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(h.server.stats().in_progress, 2);
    // ...and the third from the same address is refused before its body
    // is read: the answer comes although no body byte is ever sent.
    let mut third = head_from(h.addr(), "127.0.0.2", &long_post());
    let (status, connection, closed) = answer_and_close(&mut third);
    assert_eq!(status, Some(429));
    assert_eq!(connection.as_deref(), Some("close"));
    assert!(closed, "the refused connection is closed");
    // A camera on another address is not affected.
    h.assert_camera_served();
    // Once the address's requests are over (the clients leave: their
    // bodies end short), it may post again.
    drop((held, third));
    let deadline = Instant::now() + TIMEOUT;
    let mut again = None;
    while Instant::now() < deadline {
        let mut cam = Camera::connect_from(h.addr(), ip("127.0.0.2"));
        let status = cam.post("/API", LPR_V1).status;
        if status == 200 {
            again = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        again,
        Some(200),
        "the address posts again once its requests ended"
    );
    let (_, from) = h.events.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(from, ip("127.0.0.2"));
    let stats = h.finish();
    assert!(
        stats.refused_by_reason[&Refusal::PerAddressCap] >= 1,
        "{stats:?}"
    );
    assert_eq!(stats.events(), 2, "{stats:?}");
}

#[test]
fn requests_in_progress_are_counted_per_camera_behind_a_trusted_proxy() {
    // Two cameras behind one proxy: each has its own cap of 1.
    let h = harness(
        Server::builder()
            .max_per_address(1)
            .trusted_proxies(["127.0.0.1".parse().unwrap()]),
    );
    let xff = |camera: &str| format!("X-Forwarded-For: {camera}\r\n");
    let held = {
        let mut s = connect_from(h.addr(), ip("127.0.0.1"));
        write!(
            s,
            "POST /API HTTP/1.1\r\nHost: x\r\n{}Content-Length: 5000\r\n\r\n<con",
            xff("198.51.100.1")
        )
        .unwrap();
        s
    };
    let deadline = Instant::now() + TIMEOUT;
    while h.server.stats().in_progress < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let post = |camera: &str| {
        let mut s = connect_from(h.addr(), ip("127.0.0.1"));
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        write!(
            s,
            "POST /API HTTP/1.1\r\nHost: x\r\n{}Content-Length: {}\r\n\r\n{LPR_V1}",
            xff(camera),
            LPR_V1.len()
        )
        .unwrap();
        status_of(&mut s)
    };
    // The held camera's second request is over its cap; another camera
    // behind the same proxy is not.
    assert_eq!(post("198.51.100.1"), Some(429));
    assert_eq!(post("198.51.100.2"), Some(200));
    let (_, from) = h.events.recv_timeout(TIMEOUT).unwrap();
    assert_eq!(from, ip("198.51.100.2"));
    drop(held);
    let stats = h.finish();
    assert_eq!(
        stats.refused_by_reason[&Refusal::PerAddressCap],
        1,
        "{stats:?}"
    );
}

#[test]
fn a_refused_trickler_never_holds_a_worker() {
    // One worker. A client over its address's cap that keeps trickling its
    // refused body (tiny_http reads an unread body to its end before the
    // connection can go on) must not take that worker with it.
    let h = harness(Server::builder().workers(1).max_per_address(1));
    let first = head_from(h.addr(), "127.0.0.2", &long_post());
    let deadline = Instant::now() + TIMEOUT;
    while h.server.stats().in_progress < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut refused: Vec<TcpStream> = (0..4)
        .map(|_| head_from(h.addr(), "127.0.0.2", &long_post()))
        .collect();
    for s in &mut refused {
        assert_eq!(status_of(s), Some(429));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let trickle = {
        let mut writers: Vec<TcpStream> = refused.iter().map(|s| s.try_clone().unwrap()).collect();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                for w in &mut writers {
                    let _ = w.write_all(b"a");
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let started = Instant::now();
    h.assert_camera_served();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    stop.store(true, Ordering::SeqCst);
    trickle.join().unwrap();
    drop((first, refused));
    let stats = h.finish();
    assert_eq!(
        stats.refused_by_reason[&Refusal::PerAddressCap],
        4,
        "{stats:?}"
    );
}
