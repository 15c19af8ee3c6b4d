//! Pages (`ServerBuilder::page`): `GET` paths answered from the counters,
//! over real TCP. What an attacker or a broken page could want: read the
//! metrics from outside the allowlist, or stall the cameras with a page.

mod common;

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{assert_success, Camera, LPR_V1, TIMEOUT};
use viewtron::{Page, Server};

fn get(camera: &mut Camera, method: &str, path: &str) -> common::Response {
    camera.write(format!("{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    camera.read_response()
}

#[test]
fn pages_answer_their_path_and_only_theirs() {
    let healthy = Arc::new(AtomicBool::new(true));
    let h = healthy.clone();
    let server = Server::builder()
        .bind(Ipv4Addr::LOCALHOST.into())
        .port(0)
        .page("/metrics", |stats| Page::metrics(stats.prometheus()))
        .page("/healthz", move |_| {
            if h.load(Ordering::SeqCst) {
                Page::text("ok")
            } else {
                Page::text("down").with_status(503)
            }
        })
        .build()
        .unwrap();
    let mut camera = Camera::connect(server.local_addr());
    assert_success(&camera.post("/API", LPR_V1));

    let health = get(&mut camera, "GET", "/healthz");
    assert_eq!((health.status, health.text().as_str()), (200, "ok"));
    healthy.store(false, Ordering::SeqCst);
    let health = get(&mut camera, "GET", "/healthz?probe=1");
    assert_eq!((health.status, health.text().as_str()), (503, "down"));

    let deadline = Instant::now() + TIMEOUT;
    loop {
        let metrics = get(&mut camera, "GET", "/metrics");
        assert_eq!(metrics.status, 200);
        if metrics
            .text()
            .contains("viewtron_events_total{category=\"lpr\"} 1\n")
        {
            break;
        }
        assert!(Instant::now() < deadline, "{}", metrics.text());
        std::thread::sleep(Duration::from_millis(10));
    }
    // Which protections hold, named (Linux reaches its sockets, containers
    // included: .ci/run runs this under a filter denying pidfd_getfd too).
    let metrics = get(&mut camera, "GET", "/metrics").text();
    for name in ["close_refused", "cut_stalled_bodies"] {
        let line = format!("viewtron_protection_active{{protection=\"{name}\"}} 1\n");
        assert!(metrics.contains(&line), "{line} in:\n{metrics}");
    }
    assert!(server.stats().transport.protections.close_refused);

    // HEAD: the status and headers, no body.
    let mut head = std::net::TcpStream::connect(server.local_addr()).unwrap();
    head.set_read_timeout(Some(TIMEOUT)).unwrap();
    head.write_all(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    head.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.ends_with("\r\n\r\n"),
        "a body after HEAD: {answer:?}"
    );
    // Any other path keeps the default answer.
    let other = get(&mut camera, "GET", "/metricsx");
    assert_eq!(other.text(), "Viewtron event server running");
    // And posts are still posts, even to a page's path.
    assert_success(&camera.post("/metrics", LPR_V1));
    server.shutdown();
}

#[test]
fn metrics_are_refused_outside_the_allowlist() {
    let server = Server::builder()
        .bind(Ipv4Addr::LOCALHOST.into())
        .port(0)
        .allow("127.0.0.2".parse().unwrap())
        .page("/metrics", |stats| Page::metrics(stats.prometheus()))
        .build()
        .unwrap();
    let mut outsider = Camera::connect(server.local_addr());
    let answer = get(&mut outsider, "GET", "/metrics");
    assert_eq!(answer.status, 403);
    assert!(!answer.text().contains("viewtron_"), "{}", answer.text());
    server.shutdown();
}

#[test]
fn a_panicking_page_is_a_500_and_cameras_are_still_answered() {
    let server = Server::builder()
        .bind(Ipv4Addr::LOCALHOST.into())
        .port(0)
        .workers(1)
        .page("/boom", |_| panic!("page bug"))
        .build()
        .unwrap();
    let mut camera = Camera::connect(server.local_addr());
    for _ in 0..3 {
        assert_eq!(get(&mut camera, "GET", "/boom").status, 500);
        assert_success(&camera.post("/API", LPR_V1));
    }
    server.shutdown();
}
