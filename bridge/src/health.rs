//! `viewtron-bridge --health`: asks the running bridge's `GET /healthz`, for
//! a container health check in an image with no shell and no curl.
//!
//! It reads the configuration exactly as a normal start does (`--config`,
//! `./config.yaml`, the Docker variables, the app's options; but it never
//! asks the Supervisor anything), so it asks the port the bridge listens on: the bind address when that is one address, 127.0.0.1 when it
//! is `::` or `0.0.0.0`. Exit 0 on `200`; 1 on anything else (another
//! status, nothing listening, no answer within [`TIMEOUT`], a configuration
//! error), with one line on standard error saying which.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::config;

/// The whole check (connect, ask, read the answer) ends within this.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// At most this much of the answer is read: the status line and a short body.
const MAX_ANSWER: usize = 4096;

/// Runs the check; the exit status is the result.
pub fn run(source: &config::Source, env: impl Fn(&str) -> Option<String>) -> ExitCode {
    let (bind, port) = match config::listen_addr(source, env) {
        Ok(found) => found,
        Err(e) => {
            eprintln!("viewtron-bridge: health: configuration error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = SocketAddr::new(target_ip(bind), port);
    match ask(addr, TIMEOUT) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("viewtron-bridge: health: http://{addr}/healthz: {why}");
            ExitCode::FAILURE
        }
    }
}

/// Where the bridge can be reached from this host.
fn target_ip(bind: IpAddr) -> IpAddr {
    if bind.is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        bind
    }
}

/// `GET /healthz` at `addr`: `Ok` on `200`, otherwise why not.
fn ask(addr: SocketAddr, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("no answer within {timeout:?}"))
    };
    let mut tcp = TcpStream::connect_timeout(&addr, left()?).map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(left()?))
        .map_err(|e| e.to_string())?;
    write!(
        tcp,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: viewtron-bridge-health\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("sending the request: {e}"))?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    while answer.len() < MAX_ANSWER {
        tcp.set_read_timeout(Some(left()?))
            .map_err(|e| e.to_string())?;
        match tcp.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!("no answer within {timeout:?}"))
            }
            Err(e) => return Err(format!("reading the answer: {e}")),
        }
    }
    verdict(&answer)
}

/// `Ok` when `answer` is an HTTP `200`; otherwise its status and first body line.
fn verdict(answer: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(answer);
    let status = text
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok());
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.lines().next().unwrap_or("").trim())
        .unwrap_or("");
    let body: String = body.chars().take(200).collect();
    match status {
        Some(200) => Ok(()),
        Some(403) => Err(format!("403 {body} (server.allow must let this host in)")),
        Some(code) => Err(format!("{code} {body}").trim_end().to_owned()),
        None if answer.is_empty() => Err("connection closed without an answer".to_owned()),
        None => Err("not an HTTP answer".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(
            verdict(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            Ok(())
        );
        assert_eq!(
            verdict(b"HTTP/1.1 503 Service Unavailable\r\n\r\nMQTT broker not connected\n"),
            Err("503 MQTT broker not connected".to_owned())
        );
        assert!(verdict(b"HTTP/1.1 403 Forbidden\r\n\r\n")
            .unwrap_err()
            .contains("server.allow"));
        assert_eq!(
            verdict(b""),
            Err("connection closed without an answer".to_owned())
        );
        assert_eq!(verdict(b"SSH-2.0"), Err("not an HTTP answer".to_owned()));
    }

    #[test]
    fn unspecified_binds_are_asked_on_loopback() {
        let v6: IpAddr = "::".parse().unwrap();
        let v4: IpAddr = "0.0.0.0".parse().unwrap();
        let one: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(target_ip(v6), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(target_ip(v4), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(target_ip(one), one);
    }
}
