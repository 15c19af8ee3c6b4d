//! Arbitrary byte streams → a real viewtron server on 127.0.0.1: the bytes are
//! written on a fresh connection, the write side is closed, and the answer is
//! read to the end. The server must never panic (a panic in any thread
//! aborts the fuzzer), and every 256 inputs a normal camera post must still
//! be answered `200`.
//!
//! Two inputs are skipped on purpose, as known tiny_http 0.12 behaviours that
//! each leak a thread for good and would exhaust the fuzzer's process (both
//! are tested in `tests/hostile.rs` and listed in `docs/tiny_http.md`): a
//! request line with `HTTP/2` or `HTTP/3` (tiny_http deadlocks that
//! connection), and a `Content-Length` over 64 MiB (the server parks the
//! connection rather than let tiny_http allocate the declared size).
#![no_main]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use memchr::memmem;

fn server() -> SocketAddr {
    static SERVER: OnceLock<viewtron::Server> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            viewtron::Server::builder()
                .bind("127.0.0.1".parse().unwrap())
                .port(0)
                .workers(2)
                .read_timeout(Duration::from_secs(1))
                .max_body(1 << 20)
                .on_event(|event, _| {
                    std::hint::black_box(event.targets().len());
                })
                .on_raw(|xml, _| {
                    std::hint::black_box(xml.len());
                })
                .on_unparsed(|_, _, reason| {
                    std::hint::black_box(reason.as_str());
                })
                .build()
                .expect("the fuzz server binds 127.0.0.1")
        })
        .local_addr()
}

fn skipped(data: &[u8]) -> bool {
    if memmem::find(data, b"HTTP/2").is_some() || memmem::find(data, b"HTTP/3").is_some() {
        return true;
    }
    let lower = data.to_ascii_lowercase();
    memmem::find_iter(&lower, b"content-length").any(|at| {
        let digits: Vec<u8> = lower[at + 14..]
            .iter()
            .skip_while(|b| matches!(b, b':' | b' ' | b'\t'))
            .take_while(|b| b.is_ascii_digit())
            .copied()
            .collect();
        digits.len() > 8
            || std::str::from_utf8(&digits)
                .ok()
                .and_then(|d| d.parse::<u64>().ok())
                .is_some_and(|n| n > 64 << 20)
    })
}

fn exchange(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut answer = Vec::new();
    let Ok(mut s) = TcpStream::connect(addr) else {
        return answer;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(3)));
    let _ = s.write_all(data);
    let _ = s.shutdown(Shutdown::Write);
    let _ = s.read_to_end(&mut answer);
    answer
}

fuzz_target!(|data: &[u8]| {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let addr = server();
    if !skipped(data) {
        exchange(addr, data);
    }
    if RUNS.fetch_add(1, Ordering::Relaxed) % 256 == 0 {
        let body = "<config version=\"2.0.0\"><messageType>keepalive</messageType></config>";
        let post = format!(
            "POST /API HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let answer = exchange(addr, post.as_bytes());
        assert!(
            answer.starts_with(b"HTTP/1.1 200"),
            "the server stopped answering cameras: {:?}",
            String::from_utf8_lossy(&answer)
        );
    }
});
