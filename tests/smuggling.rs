//! Request smuggling: a request whose framing is refused must close its
//! connection, so that nothing after the refused head is ever read as a
//! request (RFC 9112 §6.3). Behind a front end that frames a body
//! differently, that "nothing" is a request the front end never saw.
//!
//! Each test plays the smuggler on loopback: one write holding the refused
//! head and, after it, a complete camera post (a fixture) that a desynced
//! server would take for a second request. It checks what the smuggler is
//! after: exactly one answer, a 4xx (never 500) saying `Connection: close`,
//! the connection closed by the server (EOF well before the read timeout),
//! no event delivered; then a camera on a fresh connection is served.

mod common;

use std::io::{BufReader, Cursor, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use crossbeam_channel::{unbounded, Receiver};
use viewtron::{Event, Refusal, Server, ServerBuilder};

/// Far longer than any test waits for EOF: a close seen in time is the
/// server's doing, not its read timeout's.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the smuggler waits for the server to close.
const CLOSE_WITHIN: Duration = Duration::from_secs(5);

/// The hidden request: a complete NVR post, from the fixtures.
const HIDDEN_BODY: &str = include_str!("fixtures/v2-intrusion-region-intrusion.xml");

fn hidden_post() -> String {
    format!(
        "POST /API HTTP/1.1\r\nHost: cam\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{HIDDEN_BODY}",
        HIDDEN_BODY.len()
    )
}

struct Harness {
    server: Server,
    events: Receiver<Event>,
    delivered: Arc<AtomicUsize>,
}

fn harness(builder: ServerBuilder) -> Harness {
    let (tx, events) = unbounded();
    let delivered = Arc::new(AtomicUsize::new(0));
    let count = delivered.clone();
    let server = builder
        .bind("127.0.0.1".parse().unwrap())
        .port(0)
        .read_timeout(READ_TIMEOUT)
        .max_body(1 << 20)
        .on_event(move |e, _| {
            count.fetch_add(1, Ordering::SeqCst);
            tx.send(e).unwrap();
        })
        .build()
        .unwrap();
    Harness {
        server,
        events,
        delivered,
    }
}

/// What the smuggler saw on its connection.
struct Seen {
    answers: Vec<Response>,
    /// Bytes after the last complete answer.
    rest: Vec<u8>,
    /// The server closed the connection (EOF) within `CLOSE_WITHIN`.
    closed: bool,
}

impl Harness {
    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.server.local_addr()).unwrap();
        s.set_read_timeout(Some(CLOSE_WITHIN)).unwrap();
        s
    }

    /// Sends `bytes` in one write and reads until EOF (or `CLOSE_WITHIN`).
    fn smuggle(&self, bytes: &[u8]) -> Seen {
        let mut s = self.connect();
        s.write_all(bytes).unwrap();
        read_all(s)
    }

    /// A camera on a fresh connection is answered and its event delivered,
    /// then the server is stopped (so every delivery has happened) and the
    /// healthy event must be the only one.
    fn assert_only_healthy_delivered(&self) -> viewtron::Stats {
        let mut cam = Camera::connect(self.server.local_addr());
        assert_success(&cam.post("/API", LPR_V1));
        let event = self.events.recv_timeout(TIMEOUT).expect("healthy event");
        assert_eq!(event.plate_number(), Some("TST 042"), "{event:?}");
        drop(cam);
        self.server.shutdown();
        self.server.wait();
        let stray: Vec<_> = self
            .events
            .try_iter()
            .map(|e| e.alarm_type().to_owned())
            .collect();
        assert!(stray.is_empty(), "smuggled events delivered: {stray:?}");
        assert_eq!(self.delivered.load(Ordering::SeqCst), 1);
        let stats = self.server.stats();
        assert_eq!(stats.events(), 1, "{stats:?}");
        stats
    }
}

fn read_all(mut s: TcpStream) -> Seen {
    let started = Instant::now();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break started.elapsed() < CLOSE_WITHIN,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    let mut reader = BufReader::new(Cursor::new(bytes));
    let mut answers = Vec::new();
    while let Some(answer) = read_response(&mut reader) {
        answers.push(answer);
    }
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    Seen {
        answers,
        rest,
        closed,
    }
}

/// The defence, as the smuggler sees it.
fn assert_refused_and_closed(seen: &Seen, status: u16) {
    let statuses: Vec<u16> = seen.answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [status], "exactly one answer");
    let answer = &seen.answers[0];
    assert_eq!(answer.header("Connection"), Some("close"), "{answer:?}");
    assert!(
        seen.rest.is_empty(),
        "stray bytes: {:?}",
        String::from_utf8_lossy(&seen.rest)
    );
    assert!(seen.closed, "the server closed the connection");
}

/// One smuggling attempt per test: `head` is the refused request's head
/// and whatever body it claims, followed by the hidden post.
fn smuggle_behind(head: &str, status: u16, reason: Refusal) {
    let h = harness(Server::builder());
    let seen = h.smuggle(format!("{head}{}", hidden_post()).as_bytes());
    assert_refused_and_closed(&seen, status);
    let stats = h.assert_only_healthy_delivered();
    assert_eq!(stats.refused_by_reason[&reason], 1, "{stats:?}");
}

#[test]
fn content_length_and_chunked_together_hide_a_post() {
    smuggle_behind(
        "POST /API HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        Refusal::BadFraming,
    );
}

#[test]
fn two_content_lengths_hide_a_post() {
    let n = hidden_post().len();
    smuggle_behind(
        &format!(
            "POST /API HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: {n}\r\n\r\n"
        ),
        400,
        Refusal::BadFraming,
    );
}

#[test]
fn an_overflowing_chunk_size_is_a_400_not_a_500() {
    smuggle_behind(
        "POST /API HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
        400,
        Refusal::BadFraming,
    );
}

#[test]
fn stacked_transfer_codings_hide_a_post() {
    smuggle_behind(
        "POST /API HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
        400,
        Refusal::BadFraming,
    );
}

#[test]
fn two_transfer_encoding_headers_hide_a_post() {
    smuggle_behind(
        "POST /API HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        Refusal::BadFraming,
    );
}

#[test]
fn an_unknown_coding_with_a_content_length_hides_a_post() {
    let n = hidden_post().len();
    smuggle_behind(
        &format!("POST /API HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\nContent-Length: {n}\r\n\r\n"),
        400,
        Refusal::BadFraming,
    );
}

#[test]
fn chunked_in_http_1_0_hides_a_post() {
    smuggle_behind(
        "POST /API HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        Refusal::BadFraming,
    );
}

#[test]
fn a_chunk_without_its_line_end_hides_a_post() {
    smuggle_behind(
        "POST /API HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY",
        400,
        Refusal::BadFraming,
    );
}

#[test]
fn a_chunk_size_that_is_not_hex_hides_a_post() {
    smuggle_behind(
        "POST /API HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5g\r\nabcde\r\n0\r\n\r\n",
        400,
        Refusal::BadFraming,
    );
}

#[test]
fn a_get_with_two_content_lengths_hides_a_post() {
    let n = hidden_post().len();
    smuggle_behind(
        &format!("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: {n}\r\n\r\n"),
        400,
        Refusal::BadFraming,
    );
}

/// The last row: the hidden request is small enough to sit in
/// tiny_http's read-ahead with the refused head.
#[test]
fn a_non_numeric_content_length_hides_a_get() {
    let h = harness(Server::builder());
    let seen = h.smuggle(
        b"POST /API HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_refused_and_closed(&seen, 400);
    let stats = h.assert_only_healthy_delivered();
    assert_eq!(stats.refused_by_reason[&Refusal::BadFraming], 1);
}

/// A small post hidden entirely in tiny_http's read-ahead, parsed before
/// the refusal is even looked at.
#[test]
fn a_small_post_hidden_in_the_read_ahead_is_never_delivered() {
    let small = format!(
        "POST /API HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{INTRUSION_V2}",
        INTRUSION_V2.len()
    );
    let h = harness(Server::builder());
    let seen = h.smuggle(
        format!("POST /API HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: {}\r\n\r\n{small}", small.len())
            .as_bytes(),
    );
    assert_refused_and_closed(&seen, 400);
    h.assert_only_healthy_delivered();
}

/// The 0.1 test of this attack checked that the connection "stayed in
/// sync" after the refusal. What the smuggler wants is a second request
/// interpreted on that connection: whatever is sent after the refused head
/// (the post hidden in the chunk data, then one more post) gets no answer
/// and delivers nothing.
#[test]
fn no_request_after_refused_framing_is_interpreted() {
    let h = harness(Server::builder());
    let hidden = hidden_post();
    let mut s = h.connect();
    write!(
        s,
        "POST /API HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{hidden}\r\n0\r\n\r\n",
        hidden.len()
    )
    .unwrap();
    // The smuggler's next request, sent as if the connection were in sync;
    // the server may already have closed, so a failed write is fine.
    let _ = s.write_all(&post_request("/API", INTRUSION_V2, "keep-alive"));
    let seen = read_all(s);
    assert_refused_and_closed(&seen, 400);
    let stats = h.assert_only_healthy_delivered();
    assert_eq!(stats.refused_by_reason[&Refusal::BadFraming], 1);
    assert_eq!(stats.requests, 2, "{stats:?}");
}

#[test]
fn a_chunked_body_past_the_limit_is_a_413_and_a_close() {
    let h = harness(Server::builder());
    let s = h.connect();
    let writer = {
        let mut w = s.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut bytes =
                b"POST /API HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            let chunk = vec![b'a'; 64 * 1024];
            for _ in 0..20 {
                // 1.25 MiB in all, over the 1 MiB limit, then a hidden post.
                bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                bytes.extend_from_slice(&chunk);
                bytes.extend_from_slice(b"\r\n");
            }
            bytes.extend_from_slice(b"0\r\n\r\n");
            bytes.extend_from_slice(hidden_post().as_bytes());
            // The server stops reading at the limit: the rest may be refused.
            let _ = w.write_all(&bytes);
        })
    };
    s.set_read_timeout(Some(CLOSE_WITHIN)).unwrap();
    let seen = read_all(s);
    writer.join().unwrap();
    assert_refused_and_closed(&seen, 413);
    let stats = h.assert_only_healthy_delivered();
    assert_eq!(stats.refused_by_reason[&Refusal::TooLarge], 1);
    assert_eq!(stats.transport.parked, 0);
}

/// A body cut short (the client stops sending and half-closes): one 400,
/// nothing delivered. (A chunked body cut in the middle of a chunk's data
/// is not seen as cut: tiny_http's decoder takes that EOF for the end of
/// the body; see `docs/tiny_http.md`.)
#[test]
fn a_body_cut_short_is_a_400_and_a_close() {
    let h = harness(Server::builder());
    let cut = &HIDDEN_BODY[..1500];
    let chunked = "POST /API HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let heads = [
        format!(
            "POST /API HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{cut}",
            HIDDEN_BODY.len()
        ),
        // After a chunk's data, before its line end.
        format!("{chunked}{:x}\r\n{cut}", cut.len()),
        // Inside a chunk-size line.
        format!("{chunked}{:x}\r\n{cut}\r\n5", cut.len()),
    ];
    for head in &heads {
        let mut s = h.connect();
        s.write_all(head.as_bytes()).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let seen = read_all(s);
        assert_refused_and_closed(&seen, 400);
    }
    let stats = h.assert_only_healthy_delivered();
    let broken = stats.refused_by_reason[&Refusal::IncompleteBody]
        + stats.refused_by_reason[&Refusal::BadFraming];
    assert_eq!(broken, heads.len() as u64, "{stats:?}");
    assert_eq!(stats.parse_errors, 0, "no cut body reached the parser");
}

/// Refusals before the body is read (credentials, source, path, method)
/// leave the body unread: the connection must end there too, or a chunked
/// body would be read as requests.
#[test]
fn an_unread_refused_body_is_never_read_as_requests() {
    let hidden = hidden_post();
    let chunked = format!(
        "Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{hidden}\r\n0\r\n\r\n",
        hidden.len()
    );
    let cases: [(ServerBuilder, &str, u16, Refusal); 4] = [
        (
            Server::builder().basic_auth("camera", "s3cret"),
            "POST /API",
            401,
            Refusal::Unauthorized,
        ),
        (
            Server::builder().allow("10.0.0.0/8".parse().unwrap()),
            "POST /API",
            403,
            Refusal::Forbidden,
        ),
        (
            Server::builder().path("/API"),
            "POST /elsewhere",
            404,
            Refusal::NotFound,
        ),
        (
            Server::builder(),
            "PUT /API",
            405,
            Refusal::MethodNotAllowed,
        ),
    ];
    for (builder, line, status, reason) in cases {
        let h = harness(builder);
        let seen = h.smuggle(format!("{line} HTTP/1.1\r\nHost: x\r\n{chunked}").as_bytes());
        assert_refused_and_closed(&seen, status);
        let stats = h.server.stats();
        assert_eq!(stats.refused_by_reason[&reason], 1, "{reason}: {stats:?}");
        assert_eq!(stats.requests, 1, "{reason}: nothing read after the head");
        h.server.shutdown();
        h.server.wait();
        assert_eq!(h.delivered.load(Ordering::SeqCst), 0, "{reason}");
    }
}

/// A post pipelined *before* a refused request is answered first and
/// delivered: the close takes nothing that came before it.
#[test]
fn a_post_pipelined_before_the_refusal_is_served() {
    let h = harness(Server::builder());
    let mut bytes = post_request("/API", TRAJECT, "keep-alive");
    bytes.extend_from_slice(
        b"POST /API HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    bytes.extend_from_slice(hidden_post().as_bytes());
    let seen = h.smuggle(&bytes);
    let statuses: Vec<u16> = seen.answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 400], "in order, and nothing more");
    assert_eq!(seen.answers[1].header("Connection"), Some("close"));
    assert!(seen.closed);
    let first = h.events.recv_timeout(TIMEOUT).expect("the first post");
    assert_eq!(first.category(), viewtron::Category::Traject);
    h.server.shutdown();
    h.server.wait();
    assert!(
        h.events.try_recv().is_err(),
        "the hidden post was not delivered"
    );
    assert_eq!(h.delivered.load(Ordering::SeqCst), 1);
}

/// What a refused connection costs once it is closed: its descriptors are
/// released at once, even while the smuggler keeps its end open.
#[cfg(target_os = "linux")]
#[test]
fn refused_connections_release_their_descriptors_at_once() {
    let h = harness(Server::builder());
    let port = h.server.local_addr().port();
    let mut kept = Vec::new();
    for _ in 0..20 {
        let mut s = h.connect();
        s.write_all(b"POST /API HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 4096];
        let mut n = 1;
        while n > 0 {
            n = s.read(&mut buf).expect("answer, then EOF");
        }
        kept.push(s); // the smuggler's end stays open
    }
    // The server's descriptors for those connections must be gone (bounded
    // wait: tiny_http's thread closes them once it has read what was
    // already received). The read timeout (60 s) is far away.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut open = server_side_sockets(port);
    while open > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        open = server_side_sockets(port);
    }
    assert_eq!(
        open,
        0,
        "server-side sockets still open with {} refused connections kept open by the client",
        kept.len()
    );
    // The clients' ends are still open: the server closed its side.
    assert_eq!(kept.len(), 20);
}

/// Descriptors of this process that are the server's end of a connection
/// on `port` (not the listening socket, not clients' ends): matched by
/// socket inode between `/proc/self/fd` and `/proc/net/tcp{,6}`.
#[cfg(target_os = "linux")]
fn server_side_sockets(port: u16) -> usize {
    let ours: std::collections::HashSet<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            Some(link.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    let port = format!("{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| text.lines().skip(1).map(str::to_owned).collect::<Vec<_>>())
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields.get(1).and_then(|a| a.rsplit(':').next());
            let listening = fields.get(3) == Some(&"0A");
            local_port == Some(port.as_str())
                && !listening
                && fields.get(9).is_some_and(|inode| ours.contains(*inode))
        })
        .count()
}
