//! What every bridge test needs, the compatibility test included (it
//! compiles this file too, through `#[path]`): bounded waits, free loopback
//! ports, temporary folders, the mosquitto tools, signals to child
//! processes, and the Docker image's variables, kept out of the bridges the
//! tests start.

#![allow(dead_code)]

use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Upper bound for anything a test waits for.
pub const WAIT: Duration = Duration::from_secs(15);

/// A camera must be answered within this, whatever the broker or Home
/// Assistant are doing (a stall bound, not a speed target).
pub const ANSWER_BOUND: Duration = Duration::from_secs(1);

pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
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

/// The vendor's Docker image's variables, which override the configuration
/// file (the bridge's `--help` names them; `cli.rs` checks it names these).
pub const DOCKER_VARS: [&str; 6] = [
    "BRIDGE_PORT",
    "MQTT_BROKER",
    "MQTT_PORT",
    "MQTT_USERNAME",
    "MQTT_PASSWORD",
    "SAVE_IMAGES",
];

/// Removes the Docker image's variables from `command`'s environment: set
/// where the tests run, they would override the file the test wrote.
pub fn without_docker_vars(command: &mut Command) -> &mut Command {
    for var in DOCKER_VARS {
        command.env_remove(var);
    }
    command
}

/// A tool (`mosquitto`, `mosquitto_sub`...) from PATH, or from the sbin
/// folders where Debian puts the broker.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

pub fn signal(pid: u32, name: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .map(|s| s.success());
    assert!(matches!(ok, Ok(true)), "kill -{name} {pid}");
}

pub fn wait_exit(child: &mut Child, within: Duration) -> ExitStatus {
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
