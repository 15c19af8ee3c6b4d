//! The camera password never leaves the server: not through `Debug` of the
//! builder, the server or its stats, not through build errors, and not
//! through the log, whatever a client sends in `Authorization` (or in the
//! request target). A logger that records every line at every level plays
//! the log file an integrator ships to a support forum.

mod common;
mod programs;

use std::io::Write;
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::*;
use viewtron::Server;

const PASSWORD: &str = "pw-Zq7x-s3cret";
/// What a client guessing the password sends.
const GUESS: &str = "guessed-9Vq";

struct Recorder(Mutex<Vec<String>>);

impl log::Log for Recorder {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        self.0.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

static LOG: Recorder = Recorder(Mutex::new(Vec::new()));

fn basic(user_and_password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(user_and_password)
}

/// Every form of the secrets that must not appear.
fn secrets() -> Vec<String> {
    vec![
        PASSWORD.to_owned(),
        basic(&format!("camera:{PASSWORD}")),
        GUESS.to_owned(),
        basic(&format!("camera:{GUESS}")),
        "url-pass-4Kd".to_owned(),
        "query-pass-7Rb".to_owned(),
        "not!base64!token".to_owned(),
    ]
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in secrets() {
        assert!(!text.contains(&secret), "{what} shows `{secret}`: {text}");
    }
}

#[test]
fn debug_shows_the_user_and_hides_the_password() {
    let builder = Server::builder()
        .bind("127.0.0.1".parse().unwrap())
        .port(0)
        .basic_auth("camera", PASSWORD);
    for text in [format!("{builder:?}"), format!("{builder:#?}")] {
        assert_no_secret("ServerBuilder's Debug", &text);
        assert!(text.contains("\"camera\""), "{text}");
        assert!(text.contains("\"***\""), "{text}");
    }
    let server = builder.build().unwrap();
    for text in [format!("{server:?}"), format!("{server:#?}")] {
        assert_no_secret("Server's Debug", &text);
        assert!(
            text.contains("\"camera\"") && text.contains("\"***\""),
            "{text}"
        );
    }
    assert_no_secret("Stats", &format!("{:?}", server.stats()));
    server.shutdown();

    let invalid = Server::builder().basic_auth("cam:era", PASSWORD).build();
    let err = invalid.unwrap_err();
    assert_no_secret("BuildError", &format!("{err} {err:?}"));
}

/// Sleeps into the next wall-clock second: refusal lines are limited to one
/// a second, and each attempt below must get its own.
fn next_second() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    std::thread::sleep(Duration::from_nanos(
        1_000_000_000 - u64::from(now.subsec_nanos()),
    ));
    std::thread::sleep(Duration::from_millis(20));
}

#[test]
fn the_log_never_shows_what_a_client_sent_as_credentials() {
    log::set_logger(&LOG).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    let server = Server::builder()
        .bind("127.0.0.1".parse().unwrap())
        .port(0)
        .basic_auth("camera", PASSWORD)
        .build()
        .unwrap();
    let addr = server.local_addr();
    let guess = basic(&format!("camera:{GUESS}"));
    let right = basic(&format!("camera:{PASSWORD}"));
    let attempts = [
        // A wrong password, with and without a body.
        format!("POST /API HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {guess}\r\nContent-Length: 0\r\n\r\n"),
        format!(
            "POST /API HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {guess}\r\nContent-Length: {}\r\n\r\n{LPR_V1}",
            LPR_V1.len()
        ),
        // Garbage where the token goes.
        "POST /API HTTP/1.1\r\nHost: x\r\nAuthorization: Basic not!base64!token\r\nContent-Length: 0\r\n\r\n".to_owned(),
        // Credentials in the request target, refused for want of a header.
        "POST http://camera:url-pass-4Kd@127.0.0.1/API?password=query-pass-7Rb HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".to_owned(),
        // The right password on a request refused for its framing.
        format!("POST /API HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {right}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
    ];
    for attempt in &attempts {
        next_second();
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.write_all(attempt.as_bytes()).unwrap();
        let status = read_response(&mut std::io::BufReader::new(s)).map(|r| r.status);
        assert!(
            matches!(status, Some(400 | 401)),
            "{status:?} for {attempt}"
        );
    }
    // The right password is accepted (and is not logged either).
    let mut cam = Camera::connect(addr);
    cam.write(
        format!(
            "POST /API HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {right}\r\nContent-Length: {}\r\n\r\n{LPR_V1}",
            LPR_V1.len()
        )
        .as_bytes(),
    );
    assert_success(&cam.read_response());
    drop(cam);
    server.shutdown();
    server.wait();
    assert_eq!(server.stats().refused, attempts.len() as u64);

    let lines = LOG.0.lock().unwrap().clone();
    // Each refusal was logged, so the check below looked at real lines.
    let refusals = lines.iter().filter(|l| l.contains("refused POST")).count();
    assert_eq!(refusals, attempts.len(), "{lines:#?}");
    assert!(lines.iter().any(|l| l.contains("\"/API\"")), "{lines:#?}");
    for line in &lines {
        assert_no_secret("the log", line);
    }
}

/// `listen` with `--password-file` (the way that keeps the password out of
/// `ps`) and `--verbose`: nothing it prints, on either stream, shows the
/// password or what clients sent as credentials.
#[test]
fn listen_never_prints_the_password() {
    let dir = std::env::temp_dir().join(format!("viewtron-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let password_file = dir.join("password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = std::process::Command::new(listen_binary())
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--verbose",
        ])
        .args(["--user", "camera", "--password-file"])
        .arg(&password_file)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let connect = || loop {
        match TcpStream::connect(addr) {
            Ok(s) => break s,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("listen never listened: {e}"),
        }
    };
    let (guess, right) = (
        basic(&format!("camera:{GUESS}")),
        basic(&format!("camera:{PASSWORD}")),
    );
    let url = "http://camera:url-pass-4Kd@127.0.0.1/API?password=query-pass-7Rb";
    let attempts = [
        ("/API", guess.as_str(), 401),
        ("/API", "not!base64!token", 401),
        (url, "", 401),
        ("/API", right.as_str(), 200),
    ];
    for (target, token, status) in attempts {
        let mut s = connect();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        write!(
            s,
            "POST {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\nContent-Length: {}\r\n\r\n{LPR_V1}",
            LPR_V1.len()
        )
        .unwrap();
        let answer = read_response(&mut std::io::BufReader::new(s)).map(|r| r.status);
        assert_eq!(answer, Some(status), "{target} {token}");
        if status != 200 {
            next_second(); // one refusal line a second: let each be logged
        }
    }
    // The accepted post is printed: wait for its line, then stop `listen`.
    let printed = || std::fs::read_to_string(&out).unwrap_or_default();
    while !printed().contains("[lpr]") {
        assert!(
            std::time::Instant::now() < deadline,
            "no event line: {}",
            printed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let (stdout, stderr) = (printed(), std::fs::read_to_string(&err).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        stderr.contains("refused POST"),
        "the refusals were logged: {stderr}"
    );
    assert_no_secret("listen's standard output", &stdout);
    assert_no_secret("listen's standard error", &stderr);
}

/// The `listen` binary, built by the cargo running this test (see
/// `programs::example` why not `cargo run`).
fn listen_binary() -> std::path::PathBuf {
    let mut built = programs::build(&["-p", "viewtron", "--example", "listen"]);
    built
        .remove("listen")
        .expect("cargo reported the listen binary")
}
