//! The ceiling of the stack `viewtron` is built on: bare `tiny_http` 0.12,
//! doing only what the camera protocol demands and nothing else, for
//! `bench/run.sh` to measure our server against in the same run.
//!
//! ```text
//! cargo run --release -p viewtron-bench-rigs --bin ceiling -- PORT SECONDS [--workers N]
//! cargo run --release -p viewtron-bench-rigs --bin ceiling -- 5050 10
//! ```
//!
//! It listens on `127.0.0.1:PORT` (0 picks a free port; the address is on
//! standard error). The listener is bound with `std`, given `TCP_NODELAY`
//! (accepted sockets inherit it on Linux, as with our server, so neither side
//! of the comparison waits for Nagle and delayed ACKs) and handed to
//! `tiny_http::Server::from_listener`. `--workers` threads (default 4, our
//! server's default on a 2-core machine) share the `Arc<tiny_http::Server>`;
//! each reads every request's body to its end into a reused buffer (zeroed
//! once, so no read pays for a memset) and answers `200`, `Content-Type:
//! application/xml`, with the success XML a camera expects. No parsing, no
//! routing, no checks: whatever our server does beyond this is what the
//! ratio in the benchmark table costs.
//!
//! After SECONDS (decimals allowed) it stops taking requests, answers those
//! already received, and prints one line on standard output:
//!
//! ```text
//! requests=N connections=C peak_rss_kb=K
//! ```
//!
//! `requests` counts every request answered; `connections` the client
//! addresses (one per connection) they came from, which `bench/run.sh`
//! checks against the connections it opened; `peak_rss_kb` is the process's
//! peak resident set (`VmHWM` in `/proc/self/status`; 0 where there is none).
//! Exit status: 0 after the summary; 1 when the port cannot be bound; 2 on a
//! usage error.

use std::collections::HashSet;
use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use tiny_http::{Header, Response, StatusCode};

const USAGE: &str = "usage: ceiling PORT SECONDS [--workers N]
  serves 127.0.0.1:PORT for SECONDS with bare tiny_http (N workers, default 4),
  then prints `requests=N peak_rss_kb=K`";

/// The answer every camera post expects.
const SUCCESS_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><config version=\"1.0\" \
     xmlns=\"http://www.ipc.com/ver10\"><status>success</status></config>";

struct Args {
    port: u16,
    run_for: Duration,
    workers: usize,
}

fn main() -> ExitCode {
    let args = match viewtron_bench_rigs::args_or_exit("ceiling", USAGE, parse_args()) {
        Ok(args) => args,
        Err(code) => return code,
    };

    let server = match listen(args.port) {
        Ok(server) => Arc::new(server),
        Err(e) => {
            eprintln!("ceiling: cannot listen on 127.0.0.1:{}: {e}", args.port);
            return ExitCode::FAILURE;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..args.workers)
        .map(|_| {
            let (server, stop) = (server.clone(), stop.clone());
            thread::spawn(move || work(&server, &stop))
        })
        .collect();
    eprintln!(
        "ceiling: listening on {} for {:?} ({} workers)",
        server.server_addr(),
        args.run_for,
        args.workers
    );

    thread::sleep(args.run_for);
    stop.store(true, Ordering::SeqCst);
    // Each unblock wakes one worker, after the requests already queued.
    for _ in 0..args.workers {
        server.unblock();
    }
    let (mut requests, mut peers) = (0, HashSet::new());
    for worker in workers {
        if let Ok((answered, seen)) = worker.join() {
            requests += answered;
            peers.extend(seen);
        }
    }
    println!(
        "requests={requests} connections={} peak_rss_kb={}",
        peers.len(),
        viewtron_bench_rigs::peak_rss_kb()
    );
    ExitCode::SUCCESS
}

fn listen(port: u16) -> Result<tiny_http::Server, Box<dyn std::error::Error + Send + Sync>> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    socket2::SockRef::from(&listener).set_nodelay(true)?;
    tiny_http::Server::from_listener(listener, None)
}

/// One worker: answers requests until stopped; returns how many it answered
/// and the connections (client addresses) they came on.
fn work(server: &tiny_http::Server, stop: &AtomicBool) -> (u64, HashSet<SocketAddr>) {
    let content_type = Header::from_bytes(&b"Content-Type"[..], &b"application/xml"[..])
        .expect("static header is valid");
    // Zeroed once and kept: `read_to_end` would zero the spare capacity of
    // a cleared buffer again for every body (a memset as large as the body).
    let mut body = vec![0; 1 << 20];
    let (mut answered, mut peers) = (0, HashSet::new());
    loop {
        let mut request = match server.recv() {
            Ok(request) => request,
            Err(_) if stop.load(Ordering::SeqCst) => return (answered, peers),
            Err(_) => continue, // a failed accept: keep serving
        };
        if let Some(&peer) = request.remote_addr() {
            peers.insert(peer);
        }
        // A body cut short is the client's problem; answer all the same.
        let _ = read_body(request.as_reader(), &mut body);
        let response = Response::new(
            StatusCode(200),
            vec![content_type.clone()],
            SUCCESS_XML.as_bytes(),
            Some(SUCCESS_XML.len()),
            None,
        );
        if request.respond(response).is_ok() {
            answered += 1;
        }
    }
}

/// Reads a body to its end into `buf`, growing it (zeroed) only when a body
/// is larger than any before; returns the body's length.
fn read_body(reader: &mut dyn Read, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match reader.read(&mut buf[len..]) {
            Ok(0) => return Ok(len),
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// `Ok(None)` for `--help`.
fn parse_args() -> Result<Option<Args>, String> {
    let mut workers = 4;
    let parsed = viewtron_bench_rigs::parse_args(std::env::args().skip(1), |flag, rest| {
        if flag != "--workers" {
            return Ok(false);
        }
        let value = rest.next().ok_or("--workers needs a value")?;
        workers = match value.parse() {
            Ok(n @ 1..=1024) => n,
            _ => return Err(format!("--workers: invalid value `{value}` (1 to 1024)")),
        };
        Ok(true)
    })?;
    Ok(parsed.map(|(port, run_for)| Args {
        port,
        run_for,
        workers,
    }))
}
