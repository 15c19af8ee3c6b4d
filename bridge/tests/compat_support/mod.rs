//! The real parts of the compatibility test: mosquitto, the bridge binary,
//! a camera's HTTP post and a webhook receiver's HTTP parsing. Everything runs
//! on loopback, on free ports, in a temporary folder, and stops by itself.

#[path = "../support/base.rs"]
mod base;
pub mod diff;
pub mod ours;

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use base::{find_tool, without_docker_vars};
pub use base::{free_port, TempDir};

/// A child process, killed and reaped when dropped.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A mosquitto tool, from PATH or Debian's /usr/sbin.
pub fn tool(name: &str) -> PathBuf {
    find_tool(name).unwrap_or_else(|| {
        panic!("{name} is not installed: apt-get install mosquitto mosquitto-clients")
    })
}

/// Fails the test, naming the command that installs them, unless
/// mosquitto and its clients are here: a test that cannot run must not
/// pass (the README's test command tests everything, or says what to
/// install).
pub fn require_mosquitto() {
    let missing: Vec<&str> = ["mosquitto", "mosquitto_sub", "mosquitto_pub"]
        .into_iter()
        .filter(|t| find_tool(t).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "{missing:?} not installed: apt-get install mosquitto mosquitto-clients"
    );
}

/// A private mosquitto on a free loopback port, logging connections to a file.
pub struct Broker {
    _child: Kill,
    pub port: u16,
    log: PathBuf,
}

impl Broker {
    pub fn start(dir: &TempDir) -> Broker {
        let port = free_port();
        let conf = dir.path().join("mosquitto.conf");
        let log = dir.path().join("mosquitto.log");
        fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 log_dest stderr\nlog_type all\n"
            ),
        )
        .expect("write mosquitto.conf");
        // Its log goes through a file we opened: mosquitto started as root
        // drops to its own user and could not open one in our folder.
        let child = Command::new(tool("mosquitto"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).expect("create mosquitto.log"))
            .spawn()
            .expect("start mosquitto");
        let broker = Broker {
            _child: Kill(child),
            port,
            log,
        };
        let end = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(
                Instant::now() < end,
                "mosquitto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        broker
    }

    /// Waits until a client that is not one of this test's own has connected
    /// (the bridge), so the first post does not race its broker connection.
    pub fn wait_for_client(&self, bridge: &mut Bridge, bridge_log: &Path) {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let log = fs::read_to_string(&self.log).unwrap_or_default();
            let connected = log.lines().any(|l| {
                l.contains("New client connected")
                    && l.split(" as ")
                        .nth(1)
                        .is_some_and(|id| !id.starts_with("compat-"))
            });
            if connected {
                return;
            }
            bridge.check_alive(bridge_log);
            assert!(
                Instant::now() < end,
                "the bridge never connected to mosquitto; bridge log:\n{}",
                fs::read_to_string(bridge_log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The topics a new subscriber receives as retained.
    pub fn retained_topics(&self) -> BTreeSet<String> {
        // Retained messages are sent right after the subscription; -W ends the
        // client after 2 s in any case.
        let out = Command::new(tool("mosquitto_sub"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-i",
                "compat-retained",
            ])
            .args(["-t", "#", "--retained-only", "-W", "2", "-F", "%t"])
            .stderr(Stdio::null())
            .output()
            .expect("run mosquitto_sub");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|t| !t.is_empty() && !t.starts_with("compat/"))
            .map(str::to_owned)
            .collect()
    }
}

/// Our `viewtron-bridge`, run as a user would, output to a log file.
pub struct Bridge(Kill);

impl Bridge {
    pub fn start(config: &Path, tz: &str, log: &Path) -> Bridge {
        let out = fs::File::create(log).expect("create bridge log");
        let err = out.try_clone().expect("clone log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_viewtron-bridge"));
        command
            .arg("--config")
            .arg(config)
            .current_dir(config.parent().expect("config folder"))
            .env("TZ", tz)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        without_docker_vars(&mut command);
        Bridge(Kill(command.spawn().expect("start viewtron-bridge")))
    }

    pub fn check_alive(&mut self, log: &Path) {
        if let Ok(Some(status)) = self.0 .0.try_wait() {
            panic!(
                "viewtron-bridge exited ({status}); its log:\n{}",
                fs::read_to_string(log).unwrap_or_default()
            );
        }
    }
}

pub fn wait_for_port(port: u16, bridge: &mut Bridge, log: &Path) {
    let end = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        bridge.check_alive(log);
        assert!(Instant::now() < end, "the bridge never listened on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// POSTs a body as the camera at `camera` (a loopback address) does and
/// returns the answer's status.
///
/// The vendor saw the post come from `camera` itself. Ours sees it come from
/// 127.0.0.1 with `X-Forwarded-For: <camera>` when `camera` is another
/// loopback address, and believes it (the test's configuration trusts
/// 127.0.0.1 as a proxy): the standard library cannot choose a client
/// socket's source address, and the camera address is all that matters here
/// (it makes the camera id, `camera_ip` and the configuration URL).
pub fn post_like_a_camera(port: u16, body: &[u8], camera: &str) -> u16 {
    let camera: Ipv4Addr = camera
        .parse()
        .unwrap_or_else(|_| panic!("camera address {camera:?} is not IPv4"));
    assert!(
        camera.is_loopback(),
        "camera address {camera} is not loopback"
    );
    let forwarded = if camera == Ipv4Addr::LOCALHOST {
        String::new()
    } else {
        format!("X-Forwarded-For: {camera}\r\n")
    };
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect to the bridge");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/xml\r\n\
         {forwarded}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("send head");
    s.write_all(body).expect("send body");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer from the bridge: {text:?}"))
}

/// Reads one HTTP/1.1 request (Content-Length or chunked body); None at end.
pub fn read_request(reader: &mut impl BufRead) -> Option<Hook> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let path = line.split_whitespace().nth(1)?.to_owned();
    let (mut length, mut chunked, mut content_type) = (0usize, false, String::new());
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "content-type" => content_type = value.trim().to_owned(),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some(Hook {
        path,
        content_type,
        body,
    })
}

pub fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

pub fn short_hex(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().take(12).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 12 {
        hex + "…"
    } else {
        hex
    }
}

/// One MQTT message as the subscriber saw it (retain as published).
pub struct Message {
    pub topic: String,
    pub qos: u8,
    pub retain: bool,
    pub payload: Vec<u8>,
}

/// One webhook request as the receiver got it.
pub struct Hook {
    pub path: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// `mosquitto_sub` over MQTT 5 with retain-as-published, so the retain flag
/// the bridge set is visible on live messages.
pub struct Subscriber {
    _child: Kill,
    pub messages: Receiver<Message>,
}

impl Subscriber {
    pub fn start(broker: &Broker, id: &str) -> Subscriber {
        let mut child = Command::new(tool("mosquitto_sub"))
            .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-i", id])
            .args(["-V", "5", "-q", "2", "--retain-as-published", "-t", "#"])
            .args(["-F", "%r %q %t %x"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto_sub");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        thread::spawn(move || read_messages(stdout, tx));
        // Ready when it sees our own probe.
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            assert!(
                Instant::now() < end,
                "mosquitto_sub never saw a probe message"
            );
            let _ = Command::new(tool("mosquitto_pub"))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &broker.port.to_string(),
                    "-i",
                    "compat-probe",
                ])
                .args(["-t", "compat/probe", "-n"])
                .status();
            if let Ok(m) = rx.recv_timeout(Duration::from_millis(200)) {
                if m.topic == "compat/probe" {
                    while rx.try_recv().is_ok() {}
                    break;
                }
            }
        }
        Subscriber {
            _child: Kill(child),
            messages: rx,
        }
    }
}

fn read_messages(stdout: impl Read, tx: Sender<Message>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { return };
        let mut parts = line.splitn(4, ' ');
        let (Some(retain), Some(qos), Some(topic)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let message = Message {
            topic: topic.to_owned(),
            qos: qos.parse().unwrap_or(0),
            retain: retain == "1",
            payload: unhex(parts.next().unwrap_or_default()),
        };
        if tx.send(message).is_err() {
            return;
        }
    }
}

/// A loopback HTTP server that records every request (Home Assistant's side
/// of a webhook) and answers 200.
pub struct WebhookReceiver {
    pub port: u16,
    pub requests: Receiver<Hook>,
}

impl WebhookReceiver {
    pub fn start() -> WebhookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind webhook receiver");
        let port = listener.local_addr().expect("addr").port();
        let (tx, rx) = channel();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let tx = tx.clone();
                thread::spawn(move || serve_webhooks(stream, tx));
            }
        });
        WebhookReceiver { port, requests: rx }
    }
}

fn serve_webhooks(stream: TcpStream, tx: Sender<Hook>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    while let Some(hook) = read_request(&mut reader) {
        let _ = writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        if tx.send(hook).is_err() {
            return;
        }
    }
}
