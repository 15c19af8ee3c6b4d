//! Real parts for the bridge's tests: a mosquitto broker on a free loopback
//! port with a configuration the test writes, the `viewtron-bridge` binary,
//! an MQTT subscriber, a camera that posts fixtures, and a webhook receiver.
//! Every wait is bounded; everything started is stopped on drop.
//!
//! mosquitto missing: with `CI` set the tests fail loudly (CI installs it);
//! otherwise they print why and return early.

#![allow(dead_code, unused_imports)]

mod webhook;
pub use webhook::*;

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

/// Upper bound for anything a test waits for.
pub const WAIT: Duration = Duration::from_secs(15);

/// A camera must be answered within this, whatever the broker or Home
/// Assistant are doing (a stall bound, not a speed target).
pub const ANSWER_BOUND: Duration = Duration::from_secs(1);

pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh folder under the system's temp folder, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "viewtron-bridge-test-{tag}-{}-{n}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn mosquitto_binary() -> Option<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from));
    for dir in candidates {
        let path = dir.join("mosquitto");
        if path.is_file() {
            return Some(path);
        }
    }
    None
}

/// The mosquitto binary; `None` (after saying why) when a test should skip.
pub fn mosquitto() -> Option<PathBuf> {
    match mosquitto_binary() {
        Some(path) => Some(path),
        None if std::env::var_os("CI").is_some() => {
            panic!("mosquitto is not installed, and CI is set: the bridge tests need a real broker (apt-get install mosquitto)")
        }
        None => {
            eprintln!("SKIPPED: mosquitto is not installed (apt-get install mosquitto); bridge test not run");
            None
        }
    }
}

/// A mosquitto broker on a loopback port, with persistence in its folder so
/// retained messages survive a restart.
pub struct Broker {
    pub port: u16,
    binary: PathBuf,
    conf: PathBuf,
    base: String,
    child: Option<Child>,
    _dir: TempDir,
}

impl Broker {
    /// `None` when mosquitto is missing outside CI (the test skips).
    pub fn start() -> Option<Broker> {
        let binary = mosquitto()?;
        let dir = TempDir::new("broker");
        // Started as root, mosquitto drops to its own user: let it write its
        // log and its store of retained messages here.
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        }
        let port = free_port();
        let conf = dir.path().join("mosquitto.conf");
        let base = format!(
            "listener {port} 127.0.0.1\npersistence true\npersistence_location {}/\nlog_dest file {}/mosquitto.log\n",
            dir.path().display(),
            dir.path().display()
        );
        fs::write(&conf, format!("{base}allow_anonymous true\n")).unwrap();
        let mut broker = Broker {
            port,
            binary,
            conf,
            base,
            child: None,
            _dir: dir,
        };
        broker.restart();
        Some(broker)
    }

    /// Its folder (configuration, store, log).
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }

    /// Restarts it with `extra` instead of `allow_anonymous true`.
    pub fn reconfigure(&mut self, extra: &str) {
        self.stop();
        fs::write(&self.conf, format!("{}{extra}", self.base)).unwrap();
        self.restart();
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Starts it (again, on the same port) and waits until it accepts.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "broker already running");
        let deadline = Instant::now() + WAIT;
        loop {
            let mut child = Command::new(&self.binary)
                .arg("-c")
                .arg(&self.conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start mosquitto");
            // Accepting connections, or exited (port still in TIME_WAIT use?).
            while Instant::now() < deadline {
                if TcpStream::connect(self.addr()).is_ok() {
                    self.child = Some(child);
                    return;
                }
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                Instant::now() < deadline,
                "mosquitto did not start on port {}",
                self.port
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops it gracefully (SIGTERM: it saves retained messages) and waits.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "TERM");
            wait_exit(&mut child, WAIT);
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn signal(pid: u32, name: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .map(|s| s.success());
    assert!(matches!(ok, Ok(true)), "kill -{name} {pid}");
}

fn wait_exit(child: &mut Child, within: Duration) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("process {} did not exit within {within:?}", child.id());
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// One message as a subscriber received it.
#[derive(Debug, Clone)]
pub struct Msg {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

impl Msg {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or_else(|e| {
            panic!(
                "{} is not JSON ({e}): {:?}",
                self.topic,
                String::from_utf8_lossy(&self.payload)
            )
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }
}

/// An MQTT subscriber on its own thread, collecting what arrives.
pub struct Subscriber {
    rx: Receiver<Msg>,
    client: Client,
    stop: Arc<AtomicBool>,
    pub seen: Vec<Msg>,
}

impl Subscriber {
    /// Subscribes to `filter` and waits for the subscription to be granted.
    pub fn start(broker: &Broker, filter: &str) -> Subscriber {
        static N: AtomicU64 = AtomicU64::new(0);
        let id = format!(
            "test-sub-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let mut options = MqttOptions::new(id, "127.0.0.1", broker.port);
        options
            .set_max_packet_size(64 << 20, 1 << 20)
            .set_keep_alive(Duration::from_secs(30));
        let (client, mut connection) = Client::new(options, 16);
        client.subscribe(filter, QoS::AtLeastOnce).unwrap();
        let (tx, rx) = channel();
        let (ready_tx, ready_rx) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        thread::spawn(move || {
            for event in connection.iter() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                match event {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let msg = Msg {
                            topic: p.topic.clone(),
                            payload: p.payload.to_vec(),
                            retain: p.retain,
                        };
                        if tx.send(msg).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        ready_rx.recv_timeout(WAIT).expect("subscription granted");
        Subscriber {
            rx,
            client,
            stop,
            seen: Vec::new(),
        }
    }

    /// Waits for the next message on `topic` (exact) and returns it; earlier
    /// messages on other topics are kept in `seen`.
    pub fn expect(&mut self, topic: &str) -> Msg {
        self.expect_where(&format!("a message on {topic}"), |m| m.topic == topic)
    }

    /// Waits for a message matching `want`, returning it.
    pub fn expect_where(&mut self, what: &str, want: impl Fn(&Msg) -> bool) -> Msg {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(msg) => {
                    self.seen.push(msg.clone());
                    if want(&msg) {
                        return msg;
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    let topics: Vec<_> = self.seen.iter().map(|m| m.topic.as_str()).collect();
                    panic!("no {what} within {WAIT:?}; seen: {topics:?}");
                }
            }
        }
    }

    /// A message matching `want`, already seen or still to come.
    pub fn find_or_expect(&mut self, what: &str, want: impl Fn(&Msg) -> bool) -> Msg {
        match self.seen.iter().find(|m| want(m)) {
            Some(m) => m.clone(),
            None => self.expect_where(what, want),
        }
    }

    /// Everything that arrives within `quiet` of the previous message.
    pub fn drain(&mut self, quiet: Duration) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Ok(msg) = self.rx.recv_timeout(quiet) {
            self.seen.push(msg.clone());
            out.push(msg);
        }
        out
    }

    pub fn publish(&self, topic: &str, payload: &str, retain: bool) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload.as_bytes().to_vec())
            .unwrap();
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.client.disconnect();
    }
}

/// A running `viewtron-bridge` with its log in a file.
pub struct Bridge {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
    pub dir: TempDir,
}

impl Bridge {
    /// Writes `config` (with `{port}` replaced by a free port) and starts the
    /// bridge on it, waiting until it answers `/healthz` (any status).
    pub fn start(config: &str) -> Bridge {
        Bridge::start_with_env(config, &[])
    }

    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> Bridge {
        let dir = TempDir::new("bridge");
        let port = free_port();
        let path = dir.path().join("config.yaml");
        fs::write(&path, config.replace("{port}", &port.to_string())).unwrap();
        let log = dir.path().join("bridge.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_viewtron-bridge"));
        command
            .arg("--config")
            .arg(&path)
            .env("TZ", "UTC")
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.path().join("stdout.log")).unwrap())
            .stderr(fs::File::create(&log).unwrap());
        for var in [
            "BRIDGE_PORT",
            "MQTT_BROKER",
            "MQTT_PORT",
            "MQTT_USERNAME",
            "MQTT_PASSWORD",
            "SAVE_IMAGES",
        ] {
            command.env_remove(var);
        }
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().expect("start viewtron-bridge");
        let mut bridge = Bridge {
            child,
            port,
            log,
            dir,
        };
        let deadline = Instant::now() + WAIT;
        while http_get(port, "/healthz").is_none() {
            if let Some(status) = bridge.child.try_wait().unwrap() {
                panic!(
                    "bridge exited ({status}) before listening; log:\n{}",
                    bridge.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "bridge not listening; log:\n{}",
                bridge.log_text()
            );
            thread::sleep(Duration::from_millis(20));
        }
        bridge
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `text`.
    pub fn wait_log(&self, text: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.log_text().contains(text) {
            assert!(
                Instant::now() < deadline,
                "`{text}` never logged:\n{}",
                self.log_text()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `/healthz` answers `status`.
    pub fn wait_health(&self, status: u16) {
        let deadline = Instant::now() + WAIT;
        loop {
            if http_get(self.port, "/healthz").is_some_and(|(s, _)| s == status) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "/healthz never {status}; log:\n{}",
                self.log_text()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// One metric's value from `/metrics` (the line starting with `name`).
    pub fn metric(&self, name: &str) -> u64 {
        let (_, text) = http_get(self.port, "/metrics").expect("/metrics");
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
    }

    /// Waits until `metric(name)` satisfies `want`.
    pub fn wait_metric(&self, name: &str, want: impl Fn(u64) -> bool) -> u64 {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.metric(name);
            if want(v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "{name} stayed {v}; log:\n{}",
                self.log_text()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn post(&self, body: &[u8]) -> Duration {
        post(self.port, body)
    }

    /// SIGKILL: no goodbye, the broker's last will speaks.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        signal(self.child.id(), "TERM");
        wait_exit(&mut self.child, WAIT)
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Posts `body` as a camera does and returns how long the answer took;
/// panics unless it is the success answer.
pub fn post(port: u16, body: &[u8]) -> Duration {
    let start = Instant::now();
    let mut tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let head = format!(
        "POST /API HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).unwrap();
    tcp.write_all(body).unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    let took = start.elapsed();
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.contains("success"),
        "camera answer: {answer}"
    );
    took
}

/// `GET path` → (status, body); `None` when nothing listens.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    tcp.set_read_timeout(Some(WAIT)).ok()?;
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: bridge\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).ok()?;
    let status = answer.get(9..12)?.parse().ok()?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

/// A repository fixture's bytes.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A small IP camera LPR post without pictures (one message per event).
pub fn plate_post(device: &str, plate: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<config version="1.7" xmlns="http://www.ipc.com/ver10">
<smartType type="openAlramObj">VEHICE</smartType>
<currentTime type="tint64">1767612345678901</currentTime>
<deviceName type="string"><![CDATA[{device}]]></deviceName>
<listInfo type="list" count="1"><item>
<plateNumber type="string"><![CDATA[{plate}]]></plateNumber>
<vehicleListType type="string">whiteList</vehicleListType>
</item></listInfo>
</config>"#
    )
    .into_bytes()
}

/// An IP camera LPR post (from the `v1-lpr-vehice.xml` fixture) with another
/// device name and plate.
pub fn lpr_post(device: &str, plate: &str) -> Vec<u8> {
    let text = String::from_utf8(fixture("v1-lpr-vehice.xml")).unwrap();
    text.replace("Harbour Gate LPR", device)
        .replace("HX72 LMP", plate)
        .into_bytes()
}

/// A bridge configuration with MQTT on `broker` and the given extra YAML
/// (top-level keys, and `mqtt:` keys under `mqtt_extra`).
pub fn mqtt_config(broker: &Broker, mqtt_extra: &str, extra: &str) -> String {
    format!(
        "bridge_port: {{port}}\nsave_images: false\nserver:\n  bind: 127.0.0.1\nmqtt:\n  enabled: true\n  broker: 127.0.0.1\n  port: {}\n{mqtt_extra}{extra}",
        broker.port
    )
}
