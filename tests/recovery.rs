//! Accept-loop recovery: a child process with few file descriptors runs out
//! of them (tiny_http's accept loop dies on EMFILE, or panics in `try_clone`
//! one descriptor earlier); once descriptors are free again, new cameras are
//! served again. The child is this test binary itself, run under
//! `prlimit --nofile=64`; everything stays on 127.0.0.1 and every wait is
//! bounded.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Kills the child if the test fails half-way.
struct Reaper(Option<Child>);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The child: serve until standard input closes, then print the counters.
#[test]
#[ignore = "run by accept_loop_recovers_after_descriptor_exhaustion in a child process"]
fn child_server() {
    if std::env::var_os("VIEWTRON_RECOVERY_CHILD").is_none() {
        return;
    }
    let server = viewtron::Server::builder()
        .bind("127.0.0.1".parse().unwrap())
        .port(0)
        .workers(2)
        .on_event(|_, _| {})
        .build()
        .unwrap();
    println!("PORT {}", server.local_addr().port());
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {}
    server.shutdown();
    server.wait();
    let stats = server.stats();
    println!(
        "RESULT restarts={} events={}",
        stats.transport.accept_restarts,
        stats.events()
    );
}

fn post_once(addr: SocketAddr) -> Option<u16> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .ok()?;
    let mut cam = Camera {
        reader: BufReader::new(stream),
    };
    cam.reader
        .get_mut()
        .write_all(&post_request("/API", LPR_V1, "close"))
        .ok()?;
    read_response(&mut cam.reader).map(|r| r.status)
}

#[test]
fn accept_loop_recovers_after_descriptor_exhaustion() {
    let exe = std::env::current_exe().unwrap();
    let child = Command::new("prlimit")
        .arg("--nofile=64:64")
        .arg(&exe)
        .args([
            "--exact",
            "child_server",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("VIEWTRON_RECOVERY_CHILD", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("prlimit (util-linux) is needed for this test");
    let mut reaper = Reaper(Some(child));
    let child = reaper.0.as_mut().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let port: u16 = loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "child exited early");
        // libtest may print "test child_server ... " on the same line.
        if let Some((_, p)) = line.trim().split_once("PORT ") {
            break p.parse().unwrap();
        }
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(post_once(addr), Some(200), "served before exhaustion");

    // Exhaust the child's descriptors: each accepted connection costs it two.
    let hogs: Vec<TcpStream> = (0..60)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok())
        .collect();
    assert!(hogs.len() >= 40, "connections queue in the kernel backlog");
    // While exhausted, a new camera cannot be served.
    assert_ne!(
        post_once(addr),
        Some(200),
        "the child should be out of descriptors"
    );
    drop(hogs);

    // Descriptors free up; within a bounded time the server serves again.
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut served = false;
    while Instant::now() < deadline {
        if post_once(addr) == Some(200) {
            served = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(served, "the server never recovered");

    drop(child.stdin.take()); // the child shuts down and reports
    let result = loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "child exited without a result"
        );
        if let Some((_, r)) = line.trim().split_once("RESULT ") {
            break r.to_owned();
        }
    };
    let restarts: u64 = result
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("restarts="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(restarts >= 1, "the accept loop was rebuilt: {result}");
    assert!(child.wait().unwrap().success());
    reaper.0 = None;
}
