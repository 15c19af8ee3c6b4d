//! A camera simulator: posts saved camera XML to an event server the way a
//! Viewtron IP camera or NVR does, for trying the crate without a camera and
//! for benchmarks. Plain `std::net` and threads, one thread per connection.
//!
//! ```text
//! cargo run --release --example simulate -- [OPTIONS] URL FILE...
//! cargo run --release --example simulate -- http://127.0.0.1:5050/API post.xml
//! cargo run --release --example simulate -- -c 8 -d 10 http://127.0.0.1:5050/API a.xml b.xml
//! cargo run --release --example simulate -- --close --absolute --soap -n 1000 http://[::1]:5050/API nvr.xml
//! cargo run --release --example simulate -- --rate 50 -d 300 --keepalive-every 90 http://localhost:5050/API -
//! ```
//!
//! The FILEs are post bodies, sent round-robin (`-` reads standard input once).
//! URL is `http://host[:port][/path]` with an IPv4 address, an IPv6 address in
//! brackets or a host name. Each of the `-c` connections writes one request (in
//! one write) and reads the whole answer before the next; a non-200 answer or a
//! connection error counts as an error and that connection reconnects, as a
//! camera does. The run stops after `-n` posts or `-d` seconds, whichever comes
//! first (default: one post per FILE). At the end it prints one report line:
//!
//! ```text
//! posts=10000 ok=10000 errors=0 elapsed=1.234s rate=8103.7/s tx=21.55MB/s p50=0.101ms p90=0.150ms p99=0.300ms max=2.100ms answered_connections=8/8 first_max=0.350ms
//! ```
//!
//! `rate` is posts (ok or not) per second, `tx` request bytes of ok posts per
//! second; latencies are those of ok posts, from the write (or the connect,
//! when the post opens a connection) to the end of the answer; `first_max` is
//! the slowest of the connections' first answers (`answered_connections`
//! counts the connections that had one). Keepalives sent by
//! `--keepalive-every` are counted apart (`keepalives=`); failed ones count
//! as errors. Exit status: 0 without errors, 1 with any, 2 on a usage error.
//!
//! The modules run one way: `main` starts the connections (`connection`,
//! `burst`) and prints the `report`; everything reads the run's settings from
//! `args`, and the requests go over a `link`, tallied in a `tally`.

mod args;
mod burst;
mod connection;
mod link;
mod report;
mod tally;

use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;
use std::time::Instant;

use args::parse_args;
use connection::{run_connection, TICKETS};
use report::report;
use tally::Tally;

fn main() -> ExitCode {
    let cfg = match parse_args() {
        Ok(cfg) => cfg,
        Err(msg) => {
            eprintln!("simulate: {msg}\n(simulate --help for usage)");
            return ExitCode::from(2);
        }
    };
    if !cfg.quiet {
        let (n, c, addr, path) = (cfg.posts.len(), cfg.connections, cfg.addrs[0], &cfg.path);
        eprintln!("simulate: {n} file(s) to {addr}{path} over {c} connection(s)");
    }
    if cfg.burst {
        // Tickets below `connections` are the connections' first posts.
        TICKETS.store(cfg.connections as u64, Relaxed);
    }
    let start = Instant::now();
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let cfg = &cfg;
        let (handoffs, threads): (Vec<_>, Vec<_>) = (0..cfg.connections)
            .map(|i| {
                let (tx, rx) = mpsc::sync_channel(1);
                let rx = cfg.burst.then_some(rx);
                (tx, s.spawn(move || run_connection(cfg, i, rx, start)))
            })
            .unzip();
        if cfg.burst {
            burst::burst(cfg, handoffs);
        }
        threads
            .into_iter()
            .map(|t| t.join().expect("connection thread panicked"))
            .collect()
    });
    match report(&cfg, tallies, start.elapsed()) {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}
