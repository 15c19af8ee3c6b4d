//! A server in a child process: this test binary run again, with one
//! `#[ignore]`d test of its own as the child's `main`. The child counts its
//! own threads, descriptors and memory under `/proc/self` whenever the
//! parent asks, so a test can attack the server with hundreds of sockets and
//! measure exactly what the server spends, without the attacker's sockets
//! and threads in the figures.
//!
//! Protocol, one line each way: the child prints `PORT n` once it listens,
//! `EVENT ip plate` for each event, and `MEASURE threads=.. fds=.. rss_kb=..
//! hwm_kb=..` for each `measure` line it reads, `NOW <Debug of Stats>` for
//! each `stats` line; when its standard input closes it shuts the server
//! down, prints `STATS <Debug of Stats>` and exits.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the child reported about itself.
#[derive(Debug, Clone, Copy)]
pub struct Measure {
    pub threads: usize,
    pub fds: usize,
    pub rss_kb: u64,
    pub hwm_kb: u64,
}

/// The parent's handle on the child: killed and reaped on drop.
pub struct ChildServer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    pub addr: SocketAddr,
}

impl ChildServer {
    /// Runs `test` (an `#[ignore]`d test of this binary that calls
    /// [`serve_child`] when `VIEWTRON_CHILD` is set) with `env`, under
    /// `prlimit --nofile=fds` (util-linux).
    pub fn start(test: &str, env: &[(&str, String)], fds: u64) -> ChildServer {
        let exe = std::env::current_exe().unwrap();
        let mut command = Command::new("prlimit");
        command
            .arg(format!("--nofile={fds}:{fds}"))
            .arg(&exe)
            .args([
                test,
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("VIEWTRON_CHILD", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .spawn()
            .expect("prlimit (util-linux) runs the child server");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = ChildServer {
            child,
            stdin,
            lines,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let port = server
            .line_with("PORT ", Duration::from_secs(60))
            .expect("the child server started");
        server.addr.set_port(port.trim().parse().unwrap());
        server
    }

    /// The rest of the first line (within `timeout`) containing `marker`,
    /// after it. libtest may print its own words before ours on a line.
    pub fn line_with(&self, marker: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = self.lines.recv_timeout(left).ok()?;
            if let Some((_, rest)) = line.split_once(marker) {
                return Some(rest.to_owned());
            }
        }
    }

    /// Waits for the child to print an event from `ip`; its plate.
    pub fn event_from(&self, ip: IpAddr, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let rest = self.line_with("EVENT ", left)?;
            if let Some((from, plate)) = rest.split_once(' ') {
                if from == ip.to_string() {
                    return Some(plate.to_owned());
                }
            }
        }
    }

    /// The child's threads, descriptors and memory now.
    pub fn measure(&mut self) -> Measure {
        let stdin = self.stdin.as_mut().expect("the child is running");
        writeln!(stdin, "measure").unwrap();
        stdin.flush().unwrap();
        let line = self
            .line_with("MEASURE ", Duration::from_secs(30))
            .expect("the child measured itself");
        let field = |name: &str| -> u64 {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(name))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {line:?}"))
        };
        Measure {
            threads: field("threads=") as usize,
            fds: field("fds=") as usize,
            rss_kb: field("rss_kb="),
            hwm_kb: field("hwm_kb="),
        }
    }

    /// The child's `Stats` now (Debug text).
    pub fn stats(&mut self) -> String {
        let stdin = self.stdin.as_mut().expect("the child is running");
        writeln!(stdin, "stats").unwrap();
        stdin.flush().unwrap();
        self.line_with("NOW ", Duration::from_secs(30))
            .expect("the child printed its stats")
    }

    /// Shuts the child down; its final `Stats` (Debug text).
    pub fn finish(mut self) -> String {
        drop(self.stdin.take());
        let stats = self
            .line_with("STATS ", Duration::from_secs(60))
            .expect("the child printed its stats");
        let _ = self.child.wait();
        stats
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A counter out of `Stats`' Debug text, such as `requests`.
pub fn stat(stats: &str, field: &str) -> u64 {
    let plain = format!("{field}: ");
    let at = stats
        .find(&plain)
        .map(|i| i + plain.len())
        .unwrap_or_else(|| panic!("no {field} in {stats}"));
    let digits: String = stats[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

/// In the child: `/proc/self` figures, as `MEASURE` prints them.
pub fn measure_self() -> String {
    let count = |dir: &str| std::fs::read_dir(dir).map_or(0, |d| d.count());
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    format!(
        "threads={} fds={} rss_kb={} hwm_kb={}",
        count("/proc/self/task"),
        count("/proc/self/fd"),
        kb("VmRSS:"),
        kb("VmHWM:")
    )
}

static OUT: Mutex<()> = Mutex::new(());

/// In the child: prints a line whole, whichever thread calls.
pub fn say(line: &str) {
    let _guard = OUT.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// In the child: a builder whose events are printed as `EVENT ip plate`.
pub fn child_builder() -> viewtron::ServerBuilder {
    viewtron::Server::builder()
        .bind("127.0.0.1".parse().unwrap())
        .port(0)
        .on_event(|event, ip| {
            say(&format!(
                "EVENT {ip} {}",
                event.plate_number().unwrap_or("-").replace(' ', "_")
            ))
        })
}

/// In the child: serves until standard input closes (see the module docs).
pub fn serve_child(server: viewtron::Server) {
    say(&format!("PORT {}", server.local_addr().port()));
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        match line.as_deref() {
            Ok("measure") => say(&format!("MEASURE {}", measure_self())),
            Ok("stats") => say(&format!("NOW {:?}", server.stats())),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    server.shutdown();
    server.wait();
    say(&format!("STATS {:?}", server.stats()));
}
