//! Reads events from the server's channel with a plain `for` loop on the main
//! thread, instead of a callback: `for event in server.events() { … }`.
//!
//! ```text
//! cargo run --release --example events_iter
//! cargo run --release --example events_iter -- --port 5002 --count 10
//! ```
//!
//! With no `on_event` callback, the server queues events on a bounded
//! channel; workers answer cameras first, so a slow loop body delays no
//! camera (with the default `Overflow::Block`, a full channel makes the
//! workers wait for the loop; nothing is lost). Tracking (traject) events
//! are skipped, as the Python SDK docs suggest. With `--count N` the loop
//! stops after N events (tracking ones included), shuts the server down and
//! drains what was already received; without it, it runs until interrupted.
//!
//! Exit status: 0 after `--count` events; 1 when the port cannot be bound;
//! 2 on a usage error.

use std::process::ExitCode;

use clap::Parser;
use viewtron::{Category, Server};

/// Prints camera events read with a `for` loop.
#[derive(Parser)]
struct Args {
    /// TCP port to listen on
    #[arg(long, default_value_t = 5050)]
    port: u16,
    /// stop after this many events [default: no limit]
    #[arg(long)]
    count: Option<u64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let server = match Server::builder().port(args.port).build() {
        Ok(server) => server,
        Err(e) => {
            eprintln!("events_iter: {e}");
            return ExitCode::FAILURE;
        }
    };
    // `serve_forever` would block before the loop: say where we listen instead.
    println!("Listening on {}", server.url());

    let mut seen = 0_u64;
    for event in server.events() {
        seen += 1;
        if event.category() != Category::Traject {
            let from = event.device_name().unwrap_or("unnamed device");
            print!("[{}] {} from {from}", event.category(), event.description());
            match event.plate_number() {
                Some(plate) => println!("  plate={plate}"),
                None => println!(),
            }
        }
        if args.count.is_some_and(|n| seen >= n) {
            // The loop ends once the events already received are drained.
            server.shutdown();
        }
    }
    let stats = server.stats();
    println!("{seen} events read, {} requests answered", stats.requests);
    ExitCode::SUCCESS
}
