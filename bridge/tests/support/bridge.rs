//! The `viewtron-bridge` binary run as a user would, and a camera posting
//! to it.

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::base::{free_port, signal, wait_exit, without_docker_vars, TempDir, WAIT};
use super::broker::Broker;

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
        Bridge::launch("bridge", "config.yaml", config, "--config", env)
    }

    /// As the Home Assistant app: `options` (the JSON the Supervisor writes,
    /// `{port}` replaced by a free port) passed with `--app`.
    pub fn start_app(options: &str, env: &[(&str, &str)]) -> Bridge {
        Bridge::launch("bridge-app", "options.json", options, "--app", env)
    }

    /// Writes `template` with `{port}` replaced by a free port to `file` in a
    /// fresh folder and starts the bridge with `flag file`. A port found free
    /// can be taken before the bridge binds it (by any socket of the other
    /// tests running meanwhile, outgoing connections included): then the
    /// bridge says so and exits, and it is started again on another port.
    fn launch(tag: &str, file: &str, template: &str, flag: &str, env: &[(&str, &str)]) -> Bridge {
        for _ in 0..3 {
            let dir = TempDir::new(tag);
            let port = free_port();
            let path = dir.path().join(file);
            fs::write(&path, template.replace("{port}", &port.to_string())).unwrap();
            let log = dir.path().join("bridge.log");
            let mut command = Command::new(env!("CARGO_BIN_EXE_viewtron-bridge"));
            command
                .arg(flag)
                .arg(&path)
                .env("TZ", "UTC")
                .env("RUST_LOG", "debug")
                .stdin(Stdio::null())
                .stdout(fs::File::create(dir.path().join("stdout.log")).unwrap())
                .stderr(fs::File::create(&log).unwrap());
            without_docker_vars(&mut command);
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
            if bridge.listening() {
                return bridge;
            }
            eprintln!("port {port} was taken before the bridge bound it: another port");
        }
        panic!("the bridge found its port taken three times in a row");
    }

    /// Waits until the bridge answers `/healthz`: `true`; `false` when it
    /// exited because its port was taken; any other exit, or no answer in
    /// time, fails the test.
    fn listening(&mut self) -> bool {
        let deadline = Instant::now() + WAIT;
        while http_get(self.port, "/healthz").is_none() {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = self.log_text();
                if log.contains("Address already in use") {
                    return false;
                }
                panic!("bridge exited ({status}) before listening; log:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "bridge not listening; log:\n{}",
                self.log_text()
            );
            thread::sleep(Duration::from_millis(20));
        }
        true
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

/// A small IP camera LPR post without pictures (one message per event),
/// the plate on the camera's allow list.
pub fn plate_post(device: &str, plate: &str) -> Vec<u8> {
    plate_post_in_group(device, plate, "whiteList")
}

/// [`plate_post`] with `group` as the camera's list (empty: no list).
pub fn plate_post_in_group(device: &str, plate: &str, group: &str) -> Vec<u8> {
    let list = if group.is_empty() {
        String::new()
    } else {
        format!("\n<vehicleListType type=\"string\">{group}</vehicleListType>")
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<config version="1.7" xmlns="http://www.ipc.com/ver10">
<smartType type="openAlramObj">VEHICE</smartType>
<currentTime type="tint64">1767612345678901</currentTime>
<deviceName type="string"><![CDATA[{device}]]></deviceName>
<listInfo type="list" count="1"><item>
<plateNumber type="string"><![CDATA[{plate}]]></plateNumber>{list}
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
