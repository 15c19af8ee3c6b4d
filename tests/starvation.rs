//! Slow bodies must never deafen the server. Attackers send a POST head
//! declaring 100,000 bytes and then trickle the body, one byte every 0.5 s,
//! from one address or from many, while a camera on another address posts:
//! the camera must be answered within 1 s and its event delivered, and the
//! server's threads, descriptors and memory must stay within the bounds the
//! README states. The server runs with its defaults in a child process
//! (`tests/common/child.rs`) that counts its own threads under
//! `/proc/self/task`, its descriptors under `/proc/self/fd` and its memory.
//!
//! The scenarios run one at a time (they share the machine's two cores);
//! the largest, 1,024 connections, is `#[ignore]`d and run by `.ci/run`.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::child::{child_builder, serve_child, stat, ChildServer, Measure};
use common::*;

/// Every scenario holds this: one child server at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The camera that must still be served, on an address of its own.
const CAMERA: &str = "127.0.0.200";

/// How long the attackers trickle once every head has been taken, and when
/// the camera posts. The attack outlasts tiny_http's 5 s idle-thread
/// lifetime, so that the last measure shows what the attack holds for good.
const ATTACK: Duration = Duration::from_secs(7);
const CAMERA_AT: Duration = Duration::from_millis(1500);

#[test]
#[ignore = "the child server of the tests below"]
fn child() {
    if std::env::var_os("VIEWTRON_CHILD").is_some() {
        serve_child(child_builder().build().unwrap());
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// One slow client: its head is sent, then a byte at a time.
struct Trickler {
    stream: TcpStream,
    /// The server answered it (with this status) or closed it.
    answered: Option<u16>,
    closed: bool,
}

impl Trickler {
    fn open(server: &ChildServer, source: IpAddr) -> Trickler {
        let mut stream = connect_from(server.addr, source);
        stream
            .write_all(b"POST /API HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n<config")
            .unwrap();
        stream.set_nonblocking(true).unwrap();
        Trickler {
            stream,
            answered: None,
            closed: false,
        }
    }

    /// One more byte; notes an answer or a close.
    fn tick(&mut self) {
        if self.closed {
            return;
        }
        let mut buf = [0u8; 512];
        match self.stream.read(&mut buf) {
            Ok(0) => self.closed = true,
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]);
                if let Some(status) = text.strip_prefix("HTTP/1.1 ") {
                    self.answered = status.get(..3).and_then(|s| s.parse().ok());
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => self.closed = true,
        }
        if !self.closed && self.stream.write_all(b"a").is_err() {
            self.closed = true;
        }
    }
}

/// What one scenario saw.
#[derive(Debug)]
struct Outcome {
    before: Measure,
    /// When the camera posts.
    during: Measure,
    /// At the end of the attack.
    after: Measure,
    answered_in: Duration,
    /// Tricklers answered 429 or closed by the server.
    refused: usize,
}

/// `per_source` tricklers from each of `sources`, a camera posting
/// `CAMERA_AT` into the attack, then a healthy post after it.
fn attack(sources: &[IpAddr], per_source: usize) -> Outcome {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let connections = sources.len() * per_source;
    let mut server = ChildServer::start("child", &[], 4 * connections as u64 + 1024);
    let before = server.measure();
    let start = Instant::now();
    let mut tricklers: Vec<Trickler> = sources
        .iter()
        .flat_map(|source| (0..per_source).map(move |_| *source))
        .map(|source| Trickler::open(&server, source))
        .collect();
    // Every attacker's head reaches a worker before the camera posts (the
    // server counts it as a request), within a bound.
    let mut taken = Duration::MAX;
    while start.elapsed() < Duration::from_secs(20) {
        if stat(&server.stats(), "requests") >= connections as u64 {
            taken = start.elapsed();
            break;
        }
        for t in &mut tricklers {
            t.tick();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("all {connections} heads taken after {taken:?}");
    let start = Instant::now();
    let mut answered_in = None;
    let mut during = None;
    while start.elapsed() < ATTACK {
        for t in &mut tricklers {
            t.tick();
        }
        if answered_in.is_none() && start.elapsed() >= CAMERA_AT {
            // The camera: a fresh connection from its own address.
            let mut cam = Camera::connect_from(server.addr, ip(CAMERA));
            let posted = Instant::now();
            assert_success(&cam.post("/API", LPR_V1));
            answered_in = Some(posted.elapsed());
            let plate = server.event_from(ip(CAMERA), TIMEOUT);
            assert_eq!(plate.as_deref(), Some("TST_042"), "the camera's event");
            during = Some(server.measure());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let after = server.measure();
    let refused = tricklers
        .iter()
        .filter(|t| t.answered == Some(429) || t.closed)
        .count();
    drop(tricklers);
    // A healthy post from yet another address once the attack is over.
    let mut cam = Camera::connect_from(server.addr, ip("127.0.0.201"));
    assert_success(&cam.post("/API", LPR_V1));
    assert!(server.event_from(ip("127.0.0.201"), TIMEOUT).is_some());
    let stats = server.finish();
    let outcome = Outcome {
        before,
        during: during.expect("the camera posted"),
        after,
        answered_in: answered_in.expect("the camera posted"),
        refused,
    };
    println!(
        "{connections} tricklers from {} address(es): {outcome:?}\nstats: {stats}",
        sources.len()
    );
    outcome
}

/// Probes the supervisor may open in one step of a flush
/// (`src/server/transport/doorbell.rs`, `BATCH_MAX`).
const PROBES_PER_STEP: usize = 64;

/// The bounds the README states, for `connections` slow clients of which
/// `admitted` may be reading bodies (the rest are refused and closed), each
/// term derived from what may exist and why:
///
/// - threads: tiny_http's one per connection it has served in the last 5 s
///   (a thread idles that long before its pool retires it): the slow
///   clients, the camera's, and the supervisor's probes, which flush the
///   pool when connections arrive (at most [`PROBES_PER_STEP`] at once, and
///   never more than the connections accepted since the last flush; one
///   whose thread found nothing queued idles its 5 s too); plus a spare
///   worker per admitted body (the configured free workers are in the
///   baseline);
/// - descriptors: two per open connection (its socket and tiny_http's
///   clone), the camera's two, and three per probe in flight (two on the
///   server's side, the supervisor's own end);
/// - memory: a thread's stack pages and a body buffer.
///
/// A small constant covers the threads the baseline may have been measured
/// without (the accept loop's helper and the watch, started on first use).
fn assert_bounded(outcome: &Outcome, connections: usize, admitted: usize) {
    let Outcome {
        before,
        during,
        after,
        ..
    } = outcome;
    let open = connections - outcome.refused;
    let probes = connections.min(PROBES_PER_STEP);
    assert!(
        outcome.answered_in < Duration::from_secs(1),
        "the camera waited {:?}",
        outcome.answered_in
    );
    assert!(
        open <= admitted,
        "{open} connections open, {admitted} admitted"
    );
    let threads_bound = before.threads + connections + 1 + probes + admitted + 4;
    let fds_bound = before.fds + 2 * open + 2 + 3 * probes + 4;
    for (when, m) in [("during", during), ("after", after)] {
        assert!(
            m.threads <= threads_bound,
            "{when}: threads {} -> {} for {connections} slow clients (bound {threads_bound})",
            before.threads,
            m.threads
        );
        assert!(
            m.fds <= fds_bound,
            "{when}: descriptors {} -> {} for {open} open slow clients (bound {fds_bound})",
            before.fds,
            m.fds
        );
        let grown_threads = m.threads.saturating_sub(before.threads) as u64;
        let rss_bound = before.rss_kb + 64 * grown_threads + 1024 * admitted as u64 + 4096;
        assert!(
            m.rss_kb <= rss_bound,
            "{when}: RSS {} -> {} KiB (bound {rss_bound} KiB)",
            before.rss_kb,
            m.rss_kb
        );
    }
    // At the end, 5.5 s after the camera left and 7 s after the last
    // refusal, tiny_http has retired the idle threads of the refused
    // connections, the camera's and the first flush's probes: left are the
    // open connections, a worker for each admitted body, and the threads of
    // the once-a-second idle flushes of the last 5 s (one probe each, at
    // most one thread each).
    let after_bound = before.threads + 2 * open + 5 + 4;
    assert!(
        after.threads <= after_bound,
        "after: threads {} -> {} with {open} slow clients left (bound {after_bound})",
        before.threads,
        after.threads
    );
    println!(
        "bounds: threads {} -> during {} / after {} (bounds {threads_bound} / {after_bound}); \
         descriptors {} -> during {} (bound {fds_bound})",
        before.threads, during.threads, after.threads, before.fds, during.fds
    );
}

#[test]
fn slow_bodies_on_256_connections_from_one_address_leave_other_cameras_served() {
    let outcome = attack(&[ip("127.0.0.2")], 256);
    assert_bounded(&outcome, 256, 8);
    assert_eq!(outcome.refused, 256 - 8, "{outcome:?}");
}

#[test]
fn slow_bodies_on_64_connections_from_16_addresses_leave_other_cameras_served() {
    let sources: Vec<IpAddr> = (2..=17).map(|i| ip(&format!("127.0.0.{i}"))).collect();
    let outcome = attack(&sources, 4);
    assert_bounded(&outcome, 64, 64);
}

#[test]
#[ignore = "heavy: 1,024 connections; run by .ci/run"]
fn slow_bodies_on_1024_connections_from_one_address_leave_other_cameras_served() {
    let outcome = attack(&[ip("127.0.0.2")], 1024);
    assert_bounded(&outcome, 1024, 8);
    assert_eq!(outcome.refused, 1024 - 8, "{outcome:?}");
}
