//! Runs the server on a background thread while the main thread carries on,
//! then stops it from the main thread, like the Python SDK's "Running in a
//! Background Thread" pattern plus its `shutdown()`.
//!
//! ```text
//! cargo run --release --example background_thread                 # stops after 30 s or on Enter
//! cargo run --release --example background_thread -- --seconds 300 --port 5002
//! ```
//!
//! The main thread's "other work" here is a status line every 5 seconds from
//! `server.stats()`. When the time is up, or Enter is pressed, it calls
//! `ShutdownHandle::shutdown`: the server answers and delivers every request
//! it has already received, `serve_forever` returns, and the thread is
//! joined. `Server` is `Sync`, so one `Arc<Server>` serves both threads.
//!
//! Exit status: 0 after a clean stop; 1 when the port cannot be bound or the
//! server thread panicked; 2 on a usage error.

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use viewtron::Server;

const USAGE: &str =
    "usage: background_thread [--port N] [--seconds N]   (defaults: 5050, 30; Enter stops early)";
const STATUS_EVERY: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let (port, run_for) = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("background_thread: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = Server::builder()
        .port(port)
        .on_event(|event, ip| {
            println!("[{}] {} from {ip}", event.category(), event.description());
        })
        .build();
    let server = match server {
        Ok(server) => Arc::new(server),
        Err(e) => {
            eprintln!("background_thread: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = server.shutdown_handle();
    let serving = {
        let server = server.clone();
        thread::spawn(move || server.serve_forever())
    };

    // Enter on the terminal ends the wait early. End of input (stdin closed
    // or redirected from /dev/null) does not: the timer decides then.
    let (enter_tx, enter_rx) = mpsc::channel();
    thread::spawn(move || {
        if let Some(Ok(_)) = std::io::stdin().lock().lines().next() {
            let _ = enter_tx.send(());
        }
    });

    // The main program carries on here.
    let deadline = Instant::now() + run_for;
    let mut next_status = Instant::now() + STATUS_EVERY;
    loop {
        let now = Instant::now();
        if now >= deadline {
            println!("{} s are up: stopping the server", run_for.as_secs());
            break;
        }
        let wake = deadline.min(next_status);
        match enter_rx.recv_timeout(wake - now) {
            Ok(()) => {
                println!("Enter pressed: stopping the server");
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // The reader thread met end of input: keep waiting for the timer.
            Err(mpsc::RecvTimeoutError::Disconnected) => thread::sleep(wake - now),
        }
        if Instant::now() >= next_status {
            let stats = server.stats();
            println!(
                "main: {} requests, {} events, {} cameras so far",
                stats.requests,
                stats.events(),
                stats.cameras.len()
            );
            next_status += STATUS_EVERY;
        }
    }

    stop.shutdown();
    if serving.join().is_err() {
        eprintln!("background_thread: the server thread panicked");
        return ExitCode::FAILURE;
    }
    let stats = server.stats();
    println!(
        "stopped: {} requests, {} events, {} keepalives",
        stats.requests,
        stats.events(),
        stats.keepalives
    );
    ExitCode::SUCCESS
}

/// Port and run time; `Ok(None)` for `--help`.
fn parse_args() -> Result<Option<(u16, Duration)>, String> {
    let (mut port, mut seconds) = (5050, 30);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = value(&arg, args.next())?,
            "--seconds" => seconds = value(&arg, args.next())?,
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Some((port, Duration::from_secs(seconds))))
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
