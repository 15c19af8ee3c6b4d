//! Camera identity behind a reverse proxy: `X-Forwarded-For` is believed
//! from trusted proxies only. Each test plays a client on its own loopback
//! address (127.0.0.x, bound before connecting) and checks the address the
//! server reports everywhere a camera's address appears.

mod common;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use common::*;
use viewtron::{Refusal, Server, ServerBuilder};

const PROXY: &str = "127.0.0.1";
const CAMERA: &str = "127.0.0.2";
const OTHER_CAMERA: &str = "127.0.0.4";
const ATTACKER: &str = "127.0.0.3";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// What the callbacks saw: (callback, address).
type Seen = Arc<Mutex<Vec<(&'static str, IpAddr)>>>;

struct Harness {
    server: Server,
    seen: Seen,
}

fn harness(builder: ServerBuilder) -> Harness {
    let seen: Seen = Arc::default();
    let (on_event, on_connect, on_raw) = (seen.clone(), seen.clone(), seen.clone());
    let server = builder
        .bind(ip(PROXY))
        .port(0)
        .on_event(move |_, ip| on_event.lock().unwrap().push(("event", ip)))
        .on_connect(move |ip| on_connect.lock().unwrap().push(("connect", ip)))
        .on_raw(move |_, ip| on_raw.lock().unwrap().push(("raw", ip)))
        .build()
        .unwrap();
    Harness { server, seen }
}

impl Harness {
    /// Posts the LPR fixture from `source` with these extra header lines.
    fn post_from(&self, source: &str, headers: &str) -> Response {
        let mut cam = Camera::connect_from(self.server.local_addr(), ip(source));
        cam.write(
            format!(
                "POST /API HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {}\r\n\r\n{LPR_V1}",
                LPR_V1.len()
            )
            .as_bytes(),
        );
        cam.read_response()
    }

    /// Stops the server (every delivery done); the callbacks' view, sorted
    /// by callback, and the stats.
    fn finish(self) -> (Vec<(&'static str, IpAddr)>, viewtron::Stats) {
        self.server.shutdown();
        self.server.wait();
        let mut seen = self.seen.lock().unwrap().clone();
        seen.sort();
        (seen, self.server.stats())
    }
}

fn camera_ips(stats: &viewtron::Stats) -> Vec<IpAddr> {
    stats.cameras.iter().map(|c| c.ip).collect()
}

#[test]
fn a_client_forging_x_forwarded_for_is_known_by_its_own_address() {
    let h = harness(Server::builder().trusted_proxies([PROXY.parse().unwrap()]));
    // The attacker claims to be the camera, and then to be the proxy's
    // client list: both ignored, it is not a trusted proxy.
    let forged = format!("X-Forwarded-For: {CAMERA}\r\n");
    assert_success(&h.post_from(ATTACKER, &forged));
    let chain = format!("X-Forwarded-For: {CAMERA}, {PROXY}\r\n");
    assert_success(&h.post_from(ATTACKER, &chain));
    // The healthy post: the camera, through the proxy.
    assert_success(&h.post_from(PROXY, &format!("X-Forwarded-For: {CAMERA}\r\n")));
    let (seen, stats) = h.finish();
    let (attacker, camera) = (ip(ATTACKER), ip(CAMERA));
    assert_eq!(
        seen,
        [
            ("connect", camera),
            ("connect", attacker),
            ("event", camera),
            ("event", attacker),
            ("event", attacker),
            ("raw", camera),
            ("raw", attacker),
            ("raw", attacker),
        ]
    );
    assert_eq!(camera_ips(&stats), [camera, attacker]);
}

#[test]
fn a_forged_address_does_not_pass_the_allowlist() {
    // Only the camera's address is allowed; the proxy is trusted.
    let h = harness(
        Server::builder()
            .trusted_proxies([PROXY.parse().unwrap()])
            .allow(CAMERA.parse().unwrap()),
    );
    let forged = format!("X-Forwarded-For: {CAMERA}\r\n");
    assert_eq!(h.post_from(ATTACKER, &forged).status, 403);
    // The proxy itself (no header) is not a camera the list allows either.
    assert_eq!(h.post_from(PROXY, "").status, 403);
    // Another camera behind the proxy: its own address is checked.
    let other = format!("X-Forwarded-For: {OTHER_CAMERA}\r\n");
    assert_eq!(h.post_from(PROXY, &other).status, 403);
    assert_success(&h.post_from(PROXY, &forged));
    let (seen, stats) = h.finish();
    let camera = ip(CAMERA);
    assert_eq!(
        seen,
        [("connect", camera), ("event", camera), ("raw", camera)]
    );
    assert_eq!(stats.refused_by_reason[&Refusal::Forbidden], 3);
    assert_eq!(camera_ips(&stats), [camera]);
}

#[test]
fn behind_a_trusted_proxy_each_camera_is_known_by_its_own_address() {
    let proxies = [PROXY.parse().unwrap(), "127.0.0.3".parse().unwrap()];
    let h = harness(Server::builder().trusted_proxies(proxies));
    // Two cameras behind the proxy, each twice.
    for _ in 0..2 {
        for camera in [CAMERA, OTHER_CAMERA] {
            assert_success(&h.post_from(PROXY, &format!("X-Forwarded-For: {camera}\r\n")));
        }
    }
    // A client that prepends a forged entry: the proxy appends the address
    // it saw, and that right-most untrusted entry is the camera.
    let prepended = format!("X-Forwarded-For: 198.51.100.1, {CAMERA}\r\n");
    assert_success(&h.post_from(PROXY, &prepended));
    // A chain of two trusted proxies (.3 in front of .1): the trusted hop
    // is skipped.
    let chain = format!("X-Forwarded-For: {OTHER_CAMERA}, 127.0.0.3\r\n");
    assert_success(&h.post_from(PROXY, &chain));
    let (seen, stats) = h.finish();
    let (camera, other) = (ip(CAMERA), ip(OTHER_CAMERA));
    let count = |what: &str, who: IpAddr| seen.iter().filter(|s| **s == (what, who)).count();
    assert_eq!(count("connect", camera), 1, "{seen:?}");
    assert_eq!(count("connect", other), 1, "{seen:?}");
    assert_eq!(count("event", camera), 3, "{seen:?}");
    assert_eq!(count("event", other), 3, "{seen:?}");
    assert_eq!(seen.len(), 2 + 6 + 6, "{seen:?}");
    assert_eq!(camera_ips(&stats), [camera, other]);
}
