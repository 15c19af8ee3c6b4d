//! The examples and the benchmark rigs as child processes, for the tests
//! that run them (`examples.rs`, `examples_lpr.rs`, `secrets.rs`): each is
//! built by the cargo running the test, started on loopback, and read line by
//! line.
//!
//! Nothing here sleeps and hopes: the server being up is found by retrying
//! `connect` until a deadline, output is awaited line by line until a
//! deadline, and every child is killed when its guard drops (a failed
//! assertion included), so no test can hang or leave a process behind.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Camera, TIMEOUT};

/// How long an example may take to start listening or to print a line.
pub const STARTUP: Duration = Duration::from_secs(20);
/// How long building the examples may take (a cold build compiles them).
const BUILD: Duration = Duration::from_secs(600);

/// The examples these tests run.
const EXAMPLES: [&str; 2] = ["listen", "dump"];

/// The benchmark rigs these tests run: binaries of the `viewtron-bench-rigs`
/// workspace member (`bench/rigs/`).
const RIGS: [&str; 1] = ["sink"];

/// The path of an example's or a rig's binary.
///
/// `env!("CARGO_BIN_EXE_…")` exists only for `[[bin]]` targets, and
/// `cargo test --test NAME` does not build examples (nor another package's
/// binaries). So the first call asks the cargo running this test to build
/// them all, with `--message-format=json` ([`build`]), and takes each
/// binary's path from its `compiler-artifact` message. That path follows
/// `CARGO_TARGET_DIR`, the profile and the platform's `.exe` suffix, which
/// guessing `target/debug/examples/NAME` would not, and the build is a no-op
/// when the binaries are up to date. (Running each test through
/// `cargo run --example` instead would race the tests for cargo's build
/// lock, and killing the child would kill cargo rather than the server.)
pub fn example(name: &str) -> PathBuf {
    static BINARIES: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    let binaries = BINARIES.get_or_init(build_examples);
    binaries
        .get(name)
        .unwrap_or_else(|| panic!("cargo reported no binary for example {name}: {binaries:?}"))
        .clone()
}

fn build_examples() -> HashMap<String, PathBuf> {
    let mut targets = vec!["-p", "viewtron", "-p", "viewtron-bench-rigs"];
    for name in EXAMPLES {
        targets.extend(["--example", name]);
    }
    for name in RIGS {
        targets.extend(["--bin", name]);
    }
    build(&targets)
}

/// Builds programs with the cargo running this test, in its profile, and
/// returns each one's path by name, from cargo's `compiler-artifact`
/// messages. `targets` are the cargo arguments that name them, such as
/// `["-p", "viewtron", "--example", "listen"]`.
pub fn build(targets: &[&str]) -> HashMap<String, PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--message-format=json", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .args(targets);
    if !cfg!(debug_assertions) {
        command.arg("--release"); // match `cargo test --release`
    }
    let mut child = Guard::spawn(&mut command);
    let status = child.wait(BUILD);
    let stdout = child.drain_stdout();
    child.drain_stderr();
    assert!(
        status.success(),
        "building {targets:?} failed ({status}):\n{}",
        child.stderr_text()
    );
    let mut binaries = HashMap::new();
    for line in stdout {
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let is_program = message["target"]["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|k| k == "example" || k == "bin"));
        if message["reason"] == "compiler-artifact" && is_program {
            if let (Some(name), Some(exe)) = (
                message["target"]["name"].as_str(),
                message["executable"].as_str(),
            ) {
                binaries.insert(name.to_owned(), PathBuf::from(exe));
            }
        }
    }
    binaries
}

/// A child process, killed and reaped on drop, whose output lines arrive on
/// channels (read by threads, so a full pipe never blocks the child).
pub struct Guard {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    /// Every stderr line received so far, for failure messages.
    stderr_seen: Arc<Mutex<Vec<String>>>,
}

impl Guard {
    pub fn spawn(command: &mut Command) -> Guard {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stdout = lines(child.stdout.take().expect("piped"), None);
        let stderr_seen = Arc::new(Mutex::new(Vec::new()));
        let stderr = lines(
            child.stderr.take().expect("piped"),
            Some(stderr_seen.clone()),
        );
        Guard {
            child,
            stdout,
            stderr,
            stderr_seen,
        }
    }

    pub fn start(example_name: &str, args: &[&str]) -> Guard {
        Guard::spawn(Command::new(example(example_name)).args(args))
    }

    /// The next stdout line; panics at the deadline or when stdout closes.
    pub fn next_line(&self, deadline: Instant) -> String {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.stdout.recv_timeout(wait) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                panic!("no output line in time; stderr:\n{}", self.stderr_text())
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("stdout closed early; stderr:\n{}", self.stderr_text())
            }
        }
    }

    /// Waits for a stderr line containing `text`.
    pub fn expect_stderr(&self, text: &str, deadline: Instant) {
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(wait) {
                Ok(line) if line.contains(text) => return,
                Ok(_) => {}
                Err(_) => panic!("no `{text}` on stderr; it had:\n{}", self.stderr_text()),
            }
        }
    }

    /// Waits for the child to exit; kills it and panics at the deadline.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "the child did not exit within {within:?}; stderr:\n{}",
                    self.stderr_text()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every stdout line of an exited child.
    pub fn drain_stdout(&self) -> Vec<String> {
        // The reader thread ends at EOF, which follows the exit promptly;
        // the deadline only guards against a grandchild holding the pipe.
        let deadline = Instant::now() + TIMEOUT;
        let mut lines = Vec::new();
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(wait) {
                Ok(line) => lines.push(line),
                Err(RecvTimeoutError::Disconnected) => return lines,
                Err(RecvTimeoutError::Timeout) => panic!("stdout never closed"),
            }
        }
    }

    /// Reads stderr to its end (bounded), so that `stderr_text` is complete.
    pub fn drain_stderr(&self) {
        let deadline = Instant::now() + TIMEOUT;
        while let Ok(_line) = self
            .stderr
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {}
    }

    /// The stderr lines read so far.
    pub fn stderr_text(&self) -> String {
        self.stderr_seen.lock().unwrap().join("\n")
    }

    /// Connects to the child's server, retrying until it listens.
    pub fn connect(&mut self, addr: SocketAddr) -> Camera {
        let deadline = Instant::now() + STARTUP;
        loop {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
                    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
                    stream.set_nodelay(true).unwrap();
                    return Camera {
                        reader: BufReader::new(stream),
                    };
                }
                Err(e) => {
                    if let Some(status) = self.child.try_wait().expect("try_wait") {
                        panic!(
                            "exited ({status}) before listening; stderr:\n{}",
                            self.stderr_text()
                        );
                    }
                    assert!(
                        Instant::now() < deadline,
                        "{addr} not listening after {STARTUP:?} ({e}); stderr:\n{}",
                        self.stderr_text()
                    );
                    thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends each line of `stream` on a channel from a thread; optionally
/// records them too.
fn lines(
    stream: impl Read + Send + 'static,
    record: Option<Arc<Mutex<Vec<String>>>>,
) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(record) = &record {
                record.lock().unwrap().push(line.clone());
            }
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A loopback port that was free a moment ago. (Another process could take
/// it before the example binds it; the example would then fail to start,
/// loudly, rather than the test hanging.)
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind port 0");
    listener.local_addr().unwrap().port()
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}
