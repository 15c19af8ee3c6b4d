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

use viewtron::{Category, Server};

const USAGE: &str = "usage: events_iter [--port N] [--count N]   (default port 5050, no limit)";

fn main() -> ExitCode {
    let (port, count) = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("events_iter: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = match Server::builder().port(port).build() {
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
        if count.is_some_and(|n| seen >= n) {
            // The loop ends once the events already received are drained.
            server.shutdown();
        }
    }
    let stats = server.stats();
    println!("{seen} events read, {} requests answered", stats.requests);
    ExitCode::SUCCESS
}

/// Port and event limit; `Ok(None)` for `--help`.
fn parse_args() -> Result<Option<(u16, Option<u64>)>, String> {
    let (mut port, mut count) = (5050, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = value(&arg, args.next())?,
            "--count" => count = Some(value(&arg, args.next())?),
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Some((port, count)))
}

fn value<T: std::str::FromStr>(flag: &str, value: Option<String>) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    value
        .parse()
        .map_err(|e| format!("{flag}: invalid value `{value}`: {e}"))
}
