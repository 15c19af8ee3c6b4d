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

use clap::Parser;
use viewtron::Server;

const STATUS_EVERY: Duration = Duration::from_secs(5);

/// Serves camera events on a background thread for a while; Enter stops it early.
#[derive(Parser)]
struct Args {
    /// TCP port to listen on
    #[arg(long, default_value_t = 5050)]
    port: u16,
    /// how long to serve
    #[arg(long, default_value_t = 30)]
    seconds: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let run_for = Duration::from_secs(args.seconds);
    let server = Server::builder()
        .port(args.port)
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
