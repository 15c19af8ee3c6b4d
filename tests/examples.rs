//! Smoke tests for the examples that run unattended, and for the `sink`
//! benchmark rig (`bench/rigs/`): each is built, started
//! as a child process on loopback, fed camera posts over raw TCP, and judged
//! by what it prints.
//!
//! Nothing here sleeps and hopes: the server being up is found by retrying
//! `connect` until a deadline, output is awaited line by line until a
//! deadline, and every child is killed when its guard drops (a failed
//! assertion included), so no test can hang or leave a process behind.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use common::{assert_success, Camera, ALARM_V2, INTRUSION_V2, LPR_V1, TIMEOUT, TRAJECT};
use serde_json::Value;

/// How long an example may take to start listening or to print a line.
const STARTUP: Duration = Duration::from_secs(20);
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
/// `cargo test --test examples` does not build examples (nor another
/// package's binaries). So the first call asks the cargo running this test
/// to build them, with
/// `--message-format=json`, and takes each binary's path from its
/// `compiler-artifact` message. That path follows `CARGO_TARGET_DIR`, the
/// profile and the platform's `.exe` suffix, which guessing
/// `target/debug/examples/NAME` would not, and the build is a no-op when the
/// binaries are up to date. (Running each test through `cargo run --example`
/// instead would race the tests for cargo's build lock, and killing the
/// child would kill cargo rather than the server.)
fn example(name: &str) -> PathBuf {
    static BINARIES: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    let binaries = BINARIES.get_or_init(build_examples);
    binaries
        .get(name)
        .unwrap_or_else(|| panic!("cargo reported no binary for example {name}: {binaries:?}"))
        .clone()
}

fn build_examples() -> HashMap<String, PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--message-format=json", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .args(["-p", "viewtron", "-p", "viewtron-bench-rigs"]);
    for name in EXAMPLES {
        command.args(["--example", name]);
    }
    for name in RIGS {
        command.args(["--bin", name]);
    }
    if !cfg!(debug_assertions) {
        command.arg("--release"); // match `cargo test --release`
    }
    let mut child = Guard::spawn(&mut command);
    let status = child.wait(BUILD);
    let stdout = child.drain_stdout();
    child.drain_stderr();
    assert!(
        status.success(),
        "building the examples failed ({status}):\n{}",
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
struct Guard {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    /// Every stderr line received so far, for failure messages.
    stderr_seen: Arc<Mutex<Vec<String>>>,
}

impl Guard {
    fn spawn(command: &mut Command) -> Guard {
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

    fn start(example_name: &str, args: &[&str]) -> Guard {
        Guard::spawn(Command::new(example(example_name)).args(args))
    }

    /// The next stdout line; panics at the deadline or when stdout closes.
    fn next_line(&self, deadline: Instant) -> String {
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
    fn expect_stderr(&self, text: &str, deadline: Instant) {
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
    fn wait(&mut self, within: Duration) -> ExitStatus {
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
    fn drain_stdout(&self) -> Vec<String> {
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
    fn drain_stderr(&self) {
        let deadline = Instant::now() + TIMEOUT;
        while let Ok(_line) = self
            .stderr
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {}
    }

    /// The stderr lines read so far.
    fn stderr_text(&self) -> String {
        self.stderr_seen.lock().unwrap().join("\n")
    }

    /// Connects to the child's server, retrying until it listens.
    fn connect(&mut self, addr: SocketAddr) -> Camera {
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
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind port 0");
    listener.local_addr().unwrap().port()
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Runs `sink PORT 3 [extra]`, posts three events and a keepalive, and
/// returns its summary line.
fn run_sink(extra: &[&str]) -> String {
    let port = free_port();
    let port_text = port.to_string();
    let mut args = vec![port_text.as_str(), "3"];
    args.extend_from_slice(extra);
    let mut sink = Guard::start("sink", &args);
    {
        let mut camera = sink.connect(loopback(port));
        for body in [LPR_V1, "", INTRUSION_V2, TRAJECT] {
            assert_success(&camera.post("/API", body));
        }
    } // the camera hangs up
    let status = sink.wait(STARTUP + Duration::from_secs(3));
    assert!(status.success(), "sink exited with {status}");
    let out = sink.drain_stdout();
    assert_eq!(out.len(), 1, "sink prints one line: {out:?}");
    out.into_iter().next().unwrap()
}

#[test]
fn sink_counts_events_from_the_callback() {
    let summary = run_sink(&[]);
    assert_eq!(summary, "events=3 keepalives=1 requests=4");
}

#[test]
fn sink_counts_events_from_the_channel() {
    let summary = run_sink(&["--channel"]);
    assert_eq!(summary, "events=3 keepalives=1 requests=4");
}

#[test]
fn sink_refuses_bad_arguments() {
    for args in [
        &[][..],
        &["5050"],
        &["5050", "x"],
        &["5050", "1", "--bogus"],
    ] {
        let mut sink = Guard::start("sink", args);
        let status = sink.wait(STARTUP);
        assert_eq!(status.code(), Some(2), "sink {args:?}");
        sink.expect_stderr("usage: sink", Instant::now() + TIMEOUT);
    }
}

const MOTION_V1: &str = "<config version=\"1.7\"><smartType>MOTION</smartType></config>";

#[test]
fn listen_json_prints_only_json_lines() {
    let port = free_port();
    let port_text = port.to_string();
    let mut listen = Guard::start(
        "listen",
        &["--port", &port_text, "--bind", "127.0.0.1", "--json"],
    );
    let mut camera = listen.connect(loopback(port));
    for body in [LPR_V1, "", ALARM_V2, MOTION_V1, "not xml <"] {
        assert_success(&camera.post("/API", body));
    }

    // Workers answer before they print, so lines may come in any order.
    let deadline = Instant::now() + STARTUP;
    let mut by_kind: HashMap<String, Vec<Value>> = HashMap::new();
    while by_kind.len() < 5 {
        let line = listen.next_line(deadline);
        let value: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert_eq!(value["camera_ip"], "127.0.0.1", "{line}");
        let kind = value["kind"].as_str().expect("a kind").to_owned();
        by_kind.entry(kind).or_default().push(value);
    }
    let one = |kind: &str| -> &Value {
        let values = by_kind
            .get(kind)
            .unwrap_or_else(|| panic!("no {kind}: {by_kind:?}"));
        assert_eq!(values.len(), 1, "one {kind} line: {values:?}");
        &values[0]
    };
    assert_eq!(
        one("connect"),
        &serde_json::json!({"kind": "connect", "camera_ip": "127.0.0.1"})
    );
    let event = one("event");
    assert_eq!(event["category"], "lpr");
    assert_eq!(event["plate"]["number"], "TST 042");
    assert_eq!(event["plate"]["group"], "whiteList");
    assert_eq!(event["device"]["name"], "North Gate");
    let alarm = one("alarm_status");
    assert_eq!(alarm["alarms"][0]["name"], "perimeterAlarm");
    assert_eq!(alarm["alarms"][0]["active"], true);
    let unrecognized = one("unrecognized");
    assert_eq!(unrecognized["reason"], "unknown-smartType");
    assert_eq!(unrecognized["smart_type"], "MOTION");
    assert!(one("error")["error"]
        .as_str()
        .is_some_and(|e| e.starts_with("parse-error")));

    // The banner went to stderr, not into the JSON.
    listen.expect_stderr("Ready for camera events...", Instant::now() + TIMEOUT);
} // the guard kills `listen`

#[test]
fn listen_text_prints_one_line_per_event() {
    let port = free_port();
    let port_text = port.to_string();
    let mut listen = Guard::start("listen", &["--port", &port_text, "--bind", "127.0.0.1"]);
    let mut camera = listen.connect(loopback(port));
    // The banner comes once the socket is bound: read it before posting, so
    // that no event line can race it.
    let deadline = Instant::now() + STARTUP;
    let banner: Vec<String> = (0..3).map(|_| listen.next_line(deadline)).collect();
    assert_eq!(banner[0], "Viewtron Event Server");
    assert_eq!(banner[1], format!("Listening on http://127.0.0.1:{port}"));
    assert_eq!(banner[2], "Ready for camera events...");

    assert_success(&camera.post("/API", LPR_V1));
    assert_eq!(listen.next_line(deadline), "Camera connected: 127.0.0.1");
    assert_eq!(
        listen.next_line(deadline),
        "[lpr] License Plate Detection from 127.0.0.1  plate=\"TST 042\" group=whiteList"
    );
}

#[test]
fn listen_refuses_bad_flags() {
    for args in [
        &["--bogus"][..],
        &["--port"],
        &["--port", "70000"],
        &["--json=yes"],
    ] {
        let mut listen = Guard::start("listen", args);
        let status = listen.wait(STARTUP);
        assert_eq!(status.code(), Some(2), "listen {args:?}");
        listen.expect_stderr("usage: listen", Instant::now() + TIMEOUT);
    }
    let mut help = Guard::start("listen", &["--help"]);
    assert!(help.wait(STARTUP).success());
    assert!(help.drain_stdout()[0].starts_with("usage: listen"));
}

// ---------------------------------------------------------------------------
// Issue 8: the overview item of an IP camera LPR post is not a plate.

/// What `listen` and `dump` must show for one LPR fixture.
struct Lpr {
    file: &'static str,
    /// The end of `listen`'s text line.
    text: &'static str,
    plate: Option<&'static str>,
    brand: Option<&'static str>,
    /// Target ids: the plates' cars, never the overview.
    targets: &'static [u64],
    /// Decoded sizes of the overview and of the plate crop.
    source_len: u64,
    crop_len: Option<u64>,
}

const LPR_FIXTURES: [Lpr; 5] = [
    Lpr {
        file: "v1-lpr-overview-empty-plate.xml",
        text: "plate=\"KR19 WDX\" group=temporaryList",
        plate: Some("KR19 WDX"),
        brand: Some("Ford"),
        targets: &[517],
        source_len: 164,
        crop_len: Some(161),
    },
    Lpr {
        file: "v1-lpr-overview-without-plate-number.xml",
        text: "plate=\"MV 6608 T\" group=whiteList",
        plate: Some("MV 6608 T"),
        brand: Some("Toyota"),
        targets: &[88],
        source_len: 164,
        crop_len: Some(161),
    },
    Lpr {
        file: "v1-lpr-single-item.xml",
        text: "plate=\"YT 40 LKB\" group=-",
        plate: Some("YT 40 LKB"),
        brand: None,
        targets: &[2024],
        source_len: 164,
        crop_len: Some(161),
    },
    Lpr {
        file: "v1-lpr-overview-in-source-data.xml",
        text: "plate=BT-204-HN group=blackList",
        plate: Some("BT-204-HN"),
        brand: Some("Renault"),
        targets: &[9],
        source_len: 164,
        crop_len: Some(161),
    },
    Lpr {
        file: "v1-lpr-no-plate-read.xml",
        text: "plate=- group=-",
        plate: None,
        brand: None,
        targets: &[],
        source_len: 161,
        crop_len: None,
    },
];

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn fixture_text(name: &str) -> String {
    let path = fixture_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Checks one event as the crate's JSON shows it (`listen --json`, `dump`).
fn check_lpr_json(lpr: &Lpr, value: &Value) {
    let name = lpr.file;
    assert_eq!(value["kind"], "event", "{name}: {value}");
    assert_eq!(value["category"], "lpr", "{name}");
    assert_eq!(
        value["plate"]["number"].as_str(),
        lpr.plate,
        "{name}: {value}"
    );
    assert_eq!(value["plate"].is_null(), lpr.plate.is_none(), "{name}");
    assert_eq!(value["vehicle"]["brand"].as_str(), lpr.brand, "{name}");
    let plates = value["plates"].as_array().expect("plates");
    assert_eq!(plates.len(), usize::from(lpr.plate.is_some()), "{name}");
    let targets = value["targets"].as_array().expect("targets");
    let ids: Vec<u64> = targets.iter().filter_map(|t| t["id"].as_u64()).collect();
    assert_eq!(ids, lpr.targets, "{name}: the overview is no target");
    assert_eq!(targets.len(), lpr.targets.len(), "{name}");
    assert_eq!(
        value["source_image_len"].as_u64(),
        Some(lpr.source_len),
        "{name}"
    );
    assert_eq!(value["target_image_len"].as_u64(), lpr.crop_len, "{name}");
}

/// Starts `listen` (with `extra` flags), sends a keepalive and waits for the
/// connect line, so every later line belongs to a post.
fn listen_connected(extra: &[&str], connected: &str) -> (Guard, Camera) {
    let port = free_port();
    let port_text = port.to_string();
    let mut args = vec!["--port", &port_text, "--bind", "127.0.0.1"];
    args.extend_from_slice(extra);
    let mut listen = Guard::start("listen", &args);
    let mut camera = listen.connect(loopback(port));
    assert_success(&camera.post("/API", ""));
    let deadline = Instant::now() + STARTUP;
    while listen.next_line(deadline) != connected {}
    (listen, camera)
}

#[test]
fn listen_text_prints_the_read_plate_not_the_overview_item() {
    let (listen, mut camera) = listen_connected(&[], "Camera connected: 127.0.0.1");
    for lpr in &LPR_FIXTURES {
        assert_success(&camera.post("/API", &fixture_text(lpr.file)));
        let line = listen.next_line(Instant::now() + STARTUP);
        let expected = format!("[lpr] License Plate Detection from 127.0.0.1  {}", lpr.text);
        assert_eq!(line, expected, "{}", lpr.file);
    }
}

#[test]
fn listen_json_prints_the_read_plate_not_the_overview_item() {
    let connected = r#"{"kind":"connect","camera_ip":"127.0.0.1"}"#;
    let (listen, mut camera) = listen_connected(&["--json"], connected);
    for lpr in &LPR_FIXTURES {
        assert_success(&camera.post("/API", &fixture_text(lpr.file)));
        let line = listen.next_line(Instant::now() + STARTUP);
        let value: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{}: not a JSON line ({e}): {line}", lpr.file));
        assert_eq!(value["camera_ip"], "127.0.0.1", "{line}");
        check_lpr_json(lpr, &value);
    }
}

#[test]
fn dump_prints_the_read_plate_not_the_overview_item() {
    let paths: Vec<String> = LPR_FIXTURES
        .iter()
        .map(|l| fixture_path(l.file).to_string_lossy().into_owned())
        .collect();
    let args: Vec<&str> = paths.iter().map(String::as_str).collect();
    let mut dump = Guard::start("dump", &args);
    let status = dump.wait(STARTUP);
    assert!(status.success(), "dump exited with {status}");
    let out = dump.drain_stdout();
    assert_eq!(out.len(), LPR_FIXTURES.len(), "one line per file: {out:?}");
    for ((lpr, path), line) in LPR_FIXTURES.iter().zip(&paths).zip(&out) {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}: not a JSON line ({e}): {line}", lpr.file));
        assert_eq!(value["file"], path.as_str(), "{line}");
        check_lpr_json(lpr, &value);
    }
}

#[test]
fn listen_metrics_counts_what_it_answered() {
    let port = free_port();
    let port_text = port.to_string();
    let args = ["--port", &port_text, "--bind", "127.0.0.1", "--metrics"];
    let mut listen = Guard::start("listen", &args);
    let mut camera = listen.connect(loopback(port));
    assert_success(&camera.post("/API", LPR_V1));
    assert_success(&camera.post("/API", ""));
    // Workers answer before they count what they parsed: ask until the
    // counters show both posts (bounded).
    let want = [
        "viewtron_events_total{category=\"lpr\"} 1",
        "viewtron_keepalives_total 1",
        "viewtron_cameras 1",
        "viewtron_camera_last_seen_seconds{ip=\"127.0.0.1\",name=\"North Gate\"}",
    ];
    let deadline = Instant::now() + TIMEOUT;
    loop {
        camera.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        let metrics = camera.read_response();
        assert_eq!(metrics.status, 200);
        assert!(metrics
            .header("Content-Type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")));
        let text = metrics.text();
        let missing: Vec<_> = want
            .iter()
            .filter(|w| !text.lines().any(|l| l.starts_with(*w)))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still missing {missing:?} in:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
