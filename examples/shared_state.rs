//! Counts plates in state shared between the server's worker threads and the
//! main thread, like the Python SDK's "Threading Model" section: callbacks
//! run on worker threads, so shared state goes behind a lock.
//!
//! ```text
//! cargo run --release --example shared_state                       # until Ctrl+C
//! cargo run --release --example shared_state -- --every 5 --seconds 60
//! ```
//!
//! `on_event` bumps a counter per plate in an `Arc<Mutex<HashMap<String, u32>>>`;
//! the main thread prints the counts every `--every` seconds (default 10)
//! while the server runs on a background thread. With `--seconds N` it stops
//! after N seconds, shuts the server down (which delivers what was already
//! received) and prints the final counts.
//!
//! Exit status: 0 after `--seconds`; 1 when the port cannot be bound or the
//! server thread panicked; 2 on a usage error.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use viewtron::{Category, Server};

type PlateCounts = Arc<Mutex<HashMap<String, u32>>>;

/// Counts licence plates and prints the counts now and then.
#[derive(Parser)]
struct Args {
    /// TCP port to listen on
    #[arg(long, default_value_t = 5050)]
    port: u16,
    /// print the counts every this many seconds
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    every: u64,
    /// stop after this many seconds [default: run until interrupted]
    #[arg(long)]
    seconds: Option<u64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let every = Duration::from_secs(args.every);

    let counts = PlateCounts::default();
    let server = {
        let counts = counts.clone();
        Server::builder()
            .port(args.port)
            .on_event(move |event, _ip| {
                if event.category() == Category::Lpr {
                    let plate = event.plate_number().unwrap_or("<no plate>").to_owned();
                    // Hold the lock only for the update; a poisoned lock (a
                    // panic elsewhere while holding it) still has good counts.
                    let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
                    *counts.entry(plate).or_insert(0) += 1;
                }
            })
    }
    .build();
    let server = match server {
        Ok(server) => Arc::new(server),
        Err(e) => {
            eprintln!("shared_state: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = server.shutdown_handle();
    let serving = {
        let server = server.clone();
        thread::spawn(move || server.serve_forever())
    };

    let deadline = args
        .seconds
        .map(|s| Instant::now() + Duration::from_secs(s));
    loop {
        let nap = match deadline {
            Some(deadline) => every.min(deadline.saturating_duration_since(Instant::now())),
            None => every,
        };
        thread::sleep(nap);
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        print_counts("so far", &counts);
    }

    stop.shutdown();
    if serving.join().is_err() {
        eprintln!("shared_state: the server thread panicked");
        return ExitCode::FAILURE;
    }
    print_counts("final", &counts);
    ExitCode::SUCCESS
}

/// Prints the counts, most seen first, copying them out of the lock first so
/// that printing never holds up the workers.
fn print_counts(when: &str, counts: &PlateCounts) {
    let mut snapshot: Vec<(String, u32)> = counts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(plate, n)| (plate.clone(), *n))
        .collect();
    snapshot.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    println!("plate counts ({when}): {} plates", snapshot.len());
    for (plate, n) in snapshot {
        println!("  {plate:<16} {n}");
    }
}
