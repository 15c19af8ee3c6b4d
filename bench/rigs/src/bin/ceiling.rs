//! The ceiling of the stack `viewtron` is built on: bare `tiny_http` 0.12,
//! doing only what the camera protocol demands and nothing else, for
//! `bench/run.sh` to measure our server against in the same run.
//!
//! ```text
//! cargo run --release -p viewtron-bench-rigs --bin ceiling -- PORT SECONDS [--workers N] [--parse FILE]
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
//! With `--parse FILE` it is the *floor* instead: after reading each body it
//! also has roxmltree (the version and options our parser uses) parse FILE,
//! read once at start, and walks every node. Given the post as our parser
//! hands it to roxmltree (`bench/make_posts.py` writes it), that is what any
//! server on this stack pays for a post that roxmltree reads: the ceiling
//! plus the XML parser, with no routing, events, checks or image handling.
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

use clap::Parser;
use tiny_http::{Header, Response, StatusCode};

/// The answer every camera post expects.
const SUCCESS_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><config version=\"1.0\" \
     xmlns=\"http://www.ipc.com/ver10\"><status>success</status></config>";

/// Serves 127.0.0.1:PORT for SECONDS with bare tiny_http, then prints
/// `requests=N connections=C peak_rss_kb=K`.
#[derive(Parser)]
#[command(name = "ceiling", help_template = viewtron_bench_rigs::HELP)]
struct Args {
    #[command(flatten)]
    run: viewtron_bench_rigs::RunFor,
    /// worker threads (1 to 1024)
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1024))]
    workers: u16,
    /// roxmltree also parses FILE once per request (the floor)
    #[arg(long, value_name = "FILE", value_parser = read_document)]
    parse: Option<Arc<str>>,
}

fn main() -> ExitCode {
    let args: Args = viewtron_bench_rigs::parse();

    let server = match listen(args.run.port) {
        Ok(server) => Arc::new(server),
        Err(e) => {
            eprintln!("ceiling: cannot listen on 127.0.0.1:{}: {e}", args.run.port);
            return ExitCode::FAILURE;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..args.workers)
        .map(|_| {
            let (server, stop, parse) = (server.clone(), stop.clone(), args.parse.clone());
            thread::spawn(move || work(&server, &stop, parse.as_deref()))
        })
        .collect();
    eprintln!(
        "ceiling: listening on {} for {:?} ({} workers)",
        server.server_addr(),
        args.run.seconds,
        args.workers
    );

    thread::sleep(args.run.seconds);
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
fn work(
    server: &tiny_http::Server,
    stop: &AtomicBool,
    parse: Option<&str>,
) -> (u64, HashSet<SocketAddr>) {
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
        if let Some(document) = parse {
            std::hint::black_box(nodes(document));
        }
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

/// Parses `document` as our parser calls roxmltree (no DTD, the same node
/// limit) and visits every node; the number of nodes, 0 if it is malformed.
fn nodes(document: &str) -> usize {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: viewtron::limits::MAX_XML_NODES,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(document, options)
        .map_or(0, |doc| doc.descendants().count())
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

/// The document `--parse` names, read once; refused unless roxmltree reads it.
fn read_document(file: &str) -> Result<Arc<str>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read it: {e}"))?;
    if nodes(&text) == 0 {
        return Err("not a document roxmltree reads".into());
    }
    Ok(Arc::from(text))
}
