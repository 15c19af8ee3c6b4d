//! A benchmark sink: serves on loopback for a fixed time, counts the events
//! delivered, and prints one summary line. Nothing is printed per event.
//!
//! ```text
//! cargo run --release -p viewtron-bench-rigs --bin sink -- PORT SECONDS [--channel] [--rss]
//! cargo run --release -p viewtron-bench-rigs --bin sink -- 5050 10
//! ```
//!
//! It listens on `127.0.0.1:PORT` (0 picks a free port; the address is on
//! standard error) and counts events (reading each one's category, description,
//! plate and targets, as a user would) through an `on_event` callback, or with
//! `--channel` through `server.events()` read by a consumer thread. After
//! SECONDS (decimals allowed) it shuts the server down, which answers and
//! delivers every request already received, and prints, on standard output:
//!
//! ```text
//! events=N keepalives=N requests=N
//! ```
//!
//! With `--rss` the line ends with ` peak_rss_kb=K`, the process's peak
//! resident set (`VmHWM` in `/proc/self/status`; 0 where there is none), as
//! `bench/run.sh` reads it.
//!
//! Exit status: 0 after the summary; 1 when the port cannot be bound or the
//! consumer thread panicked; 2 on a usage error.

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use clap::Parser;
use viewtron::Server;

/// Serves 127.0.0.1:PORT for SECONDS, then prints `events=N keepalives=N requests=N`.
#[derive(Parser)]
#[command(name = "sink", help_template = viewtron_bench_rigs::HELP)]
struct Args {
    #[command(flatten)]
    run: viewtron_bench_rigs::RunFor,
    /// count through server.events() instead of an on_event callback
    #[arg(long)]
    channel: bool,
    /// append ` peak_rss_kb=K` (peak resident set) to that line
    #[arg(long)]
    rss: bool,
}

fn main() -> ExitCode {
    let args: Args = viewtron_bench_rigs::parse();

    let events = Arc::new(AtomicU64::new(0));
    let builder = Server::builder()
        .bind(Ipv4Addr::LOCALHOST.into())
        .port(args.run.port);
    let builder = if args.channel {
        builder // no callback: events go to the channel
    } else {
        let events = events.clone();
        builder.on_event(move |event, _ip| {
            read_like_a_user(&event);
            events.fetch_add(1, Ordering::Relaxed);
        })
    };
    let server = match builder.build() {
        Ok(server) => server,
        Err(e) => {
            eprintln!("sink: {e}");
            return ExitCode::FAILURE;
        }
    };
    let consumer = args.channel.then(|| {
        let (stream, events) = (server.events(), events.clone());
        thread::spawn(move || {
            for event in stream {
                read_like_a_user(&event);
                events.fetch_add(1, Ordering::Relaxed);
            }
        })
    });
    eprintln!(
        "sink: listening on {} for {:?} ({})",
        server.local_addr(),
        args.run.seconds,
        if args.channel { "channel" } else { "callback" }
    );

    thread::sleep(args.run.seconds);
    server.shutdown();
    server.wait(); // every received request is answered and delivered
    if let Some(consumer) = consumer {
        // The channel ends once the stopped server's events are all read.
        if consumer.join().is_err() {
            eprintln!("sink: the consumer thread panicked");
            return ExitCode::FAILURE;
        }
    }
    let stats = server.stats();
    let rss = match args.rss {
        true => format!(" peak_rss_kb={}", viewtron_bench_rigs::peak_rss_kb()),
        false => String::new(),
    };
    println!(
        "events={} keepalives={} requests={}{rss}",
        events.load(Ordering::Relaxed),
        stats.keepalives,
        stats.requests
    );
    ExitCode::SUCCESS
}

/// Reads what a user reads (category, description, plate, targets), so
/// that no lazy path can skip the parsing users pay for.
fn read_like_a_user(event: &viewtron::Event) {
    std::hint::black_box((
        event.category(),
        event.description(),
        event.plate_number(),
        event.targets().len(),
    ));
}
