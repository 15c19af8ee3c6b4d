//! A mosquitto broker of the test's own, and an MQTT subscriber (rumqttc) on
//! it collecting what arrives.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

use super::base::{find_tool, free_port, signal, wait_exit, TempDir, WAIT};

/// The mosquitto binary. Missing, the test fails with the command that
/// installs it: a "pass" that never met a broker would claim more than it
/// tested.
pub fn mosquitto() -> PathBuf {
    match find_tool("mosquitto") {
        Some(path) => path,
        None => panic!(
            "mosquitto is not installed: the bridge's tests run against a real broker. \
             Install it with: apt-get install mosquitto mosquitto-clients"
        ),
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
    /// Starts one (a missing mosquitto fails the test: see [`mosquitto`]).
    pub fn start() -> Broker {
        let binary = mosquitto();
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
        broker
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
