//! The bridge as the Home Assistant app: `/data/options.json` exactly as the
//! Supervisor writes it from the app's schema (the vendor's option set, and
//! ours), against a real mosquitto. The Supervisor itself cannot run here:
//! its services API is played by a small HTTP server in this test that
//! answers `GET /services/mqtt` as the developer docs describe (`data` with
//! host, port, ssl, username, password; `401` without the app's token).

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use support::*;

const TOKEN: &str = "app-token-for-the-test";

/// The Supervisor's services API, answering each request on its own
/// connection; counts the requests that carried the app's token.
struct Supervisor {
    url: String,
    asked: Arc<AtomicUsize>,
}

impl Supervisor {
    fn start(answer: String) -> Supervisor {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = Vec::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push(line);
                }
                let authorised = head
                    .iter()
                    .any(|l| l.eq_ignore_ascii_case(&format!("authorization: Bearer {TOKEN}\r\n")));
                let path_ok = head
                    .first()
                    .is_some_and(|l| l.starts_with("GET /services/mqtt "));
                let (status, body) = match (authorised, path_ok) {
                    (true, true) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                        ("200 OK", answer.clone())
                    }
                    (false, _) => ("401 Unauthorized", r#"{"result":"error"}"#.to_owned()),
                    (true, false) => ("404 Not Found", r#"{"result":"error"}"#.to_owned()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Supervisor { url, asked }
    }

    fn env(&self) -> [(&str, &str); 2] {
        [
            ("SUPERVISOR_TOKEN", TOKEN),
            ("VIEWTRON_SUPERVISOR_URL", self.url.as_str()),
        ]
    }
}

/// A broker with an anonymous listener (for the test's subscriber) and one
/// that requires the login `addons` / `service-pw`. Returns that one's port.
fn broker_with_login(broker: &mut Broker) -> u16 {
    let passwd = [
        "/usr/bin/mosquitto_passwd",
        "/usr/local/bin/mosquitto_passwd",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("mosquitto_passwd: apt-get install mosquitto");
    let file = broker.dir().join("passwd");
    let ok = Command::new(passwd)
        .args(["-c", "-b"])
        .arg(&file)
        .args(["addons", "service-pw"])
        .status()
        .unwrap();
    assert!(ok.success());
    let port = free_port();
    broker.reconfigure(&format!(
        "per_listener_settings true\nallow_anonymous true\n\
         listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n",
        file.display()
    ));
    port
}

fn service(port: u16) -> String {
    format!(
        r#"{{"result":"ok","data":{{"addon":"core_mosquitto","host":"127.0.0.1","port":{port},"ssl":false,"protocol":"3.1.1","username":"addons","password":"service-pw"}}}}"#
    )
}

#[test]
fn the_vendors_options_with_the_broker_left_to_the_supervisor() {
    let mut broker = Broker::start();
    let login_port = broker_with_login(&mut broker);
    let supervisor = Supervisor::start(service(login_port));
    let mut sub = Subscriber::start(&broker, "viewtron/#");
    // The vendor's option set, with the broker left to the Supervisor.
    let options = r#"{"bridge_port": {port}, "mqtt_broker": "auto", "mqtt_port": 1883, "mqtt_username": "", "mqtt_password": "", "save_images": false}"#;
    let bridge = Bridge::start_app(options, &supervisor.env());
    bridge.wait_metric("viewtron_bridge_mqtt_connected", |n| n == 1);
    assert_eq!(supervisor.asked.load(Ordering::SeqCst), 1);
    bridge.post(&plate_post("Gate", "APP 1"));
    let state = sub.expect("viewtron/gate_127_0_0_1/lpr").json();
    assert_eq!(state["plate_number"], "APP 1");
    let log = bridge.log_text();
    assert!(
        !log.contains("service-pw"),
        "the service's password logged:\n{log}"
    );
    assert!(!log.contains(TOKEN), "the token logged:\n{log}");
}

#[test]
fn options_the_user_set_win_over_the_supervisor() {
    let mut broker = Broker::start();
    let login_port = broker_with_login(&mut broker);
    // The Supervisor points elsewhere; the user's broker and login win.
    let supervisor = Supervisor::start(service(9));
    let options = format!(
        r#"{{"bridge_port": {{port}}, "mqtt_broker": "127.0.0.1", "mqtt_port": {login_port}, "mqtt_username": "addons", "mqtt_password": "service-pw", "save_images": false, "dedup_seconds": 0, "image_retention_days": 7, "allow": ["127.0.0.0/8"], "basic_auth_username": "", "basic_auth_password": ""}}"#
    );
    // The image sets the vendor's Docker variables; in the app, the options
    // rule (the bridge listens on the options' port, reaches their broker).
    let mut env = supervisor.env().to_vec();
    env.extend([("BRIDGE_PORT", "1"), ("MQTT_BROKER", "nowhere.invalid")]);
    let bridge = Bridge::start_app(&options, &env);
    bridge.wait_metric("viewtron_bridge_mqtt_connected", |n| n == 1);
    assert_eq!(supervisor.asked.load(Ordering::SeqCst), 0, "not asked");
}

#[test]
fn the_vendors_default_broker_takes_the_services_login() {
    let mut broker = Broker::start();
    let login_port = broker_with_login(&mut broker);
    let supervisor = Supervisor::start(service(login_port));
    // As the vendor's default (`core-mosquitto`, no login), with the
    // service's host: its login is used.
    let options = format!(
        r#"{{"bridge_port": {{port}}, "mqtt_broker": "127.0.0.1", "mqtt_port": {login_port}, "mqtt_username": "", "mqtt_password": "", "save_images": false}}"#
    );
    let bridge = Bridge::start_app(&options, &supervisor.env());
    bridge.wait_metric("viewtron_bridge_mqtt_connected", |n| n == 1);
    assert_eq!(supervisor.asked.load(Ordering::SeqCst), 1);
}

#[test]
fn wrong_options_are_one_line_and_exit_2() {
    let dir = TempDir::new("app-options");
    let cases = [
        r#"{"bridge_port": "5002"}"#,
        r#"{"mqtt_brokr": "core-mosquitto"}"#,
        r#"{"mqtt_broker": "b", "basic_auth_username": "cam", "basic_auth_password": ""}"#,
        r#"{"allow": ["not a network"]}"#,
        "not json",
    ];
    for options in cases {
        let path = dir.path().join("options.json");
        std::fs::write(&path, options).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_viewtron-bridge"))
            .arg("--app")
            .arg(&path)
            .arg("--check")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{options}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{options}: {stderr}");
    }
    // A wrong type names its option.
    std::fs::write(dir.path().join("options.json"), r#"{"bridge_port": "x"}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_viewtron-bridge"))
        .arg("--app")
        .arg(dir.path().join("options.json"))
        .arg("--check")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`bridge_port`"), "{stderr}");
}
