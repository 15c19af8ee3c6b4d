//! TLS to the broker (`mqtt.tls`), against a real mosquitto with a TLS
//! listener and certificates this test makes with `openssl`: states reach
//! the broker over TLS with a client certificate; a broker whose
//! certificate another CA signed is refused with a log line that says so;
//! an unusable file is a configuration error before anything starts.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

/// Runs `openssl` with `args` in `dir`; panics with its output on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian: openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a broker certificate for 127.0.0.1 and a client certificate, both
/// signed by it, and a second CA that signed nothing here. Readable by the
/// broker, which drops to its own user.
fn make_certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    for ca in ["ca", "other-ca"] {
        let (key, pem, subj) = (
            format!("{ca}.key"),
            format!("{ca}.pem"),
            format!("/CN={ca}"),
        );
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &pem, "-days", "2", "-subj", &subj]);
        openssl(dir, &args);
    }
    fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for who in ["server", "client"] {
        let (key, csr, pem) = (
            format!("{who}.key"),
            format!("{who}.csr"),
            format!("{who}.pem"),
        );
        let subj = format!("/CN=viewtron-test-{who}");
        let mut args = vec!["req"];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &csr, "-subj", &subj]);
        openssl(dir, &args);
        let ext = format!("{who}.ext");
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
    }
    for entry in fs::read_dir(dir).unwrap() {
        use std::os::unix::fs::PermissionsExt;
        let path = entry.unwrap().path();
        fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
    }
}

/// The broker: its plain listener (for the test's subscriber) and a TLS one
/// that requires a client certificate. Returns the TLS port.
fn tls_broker(broker: &mut Broker) -> u16 {
    let dir = broker.dir().to_owned();
    make_certificates(&dir);
    let port = free_port();
    let d = dir.display();
    broker.reconfigure(&format!(
        "allow_anonymous true\nlistener {port} 127.0.0.1\ncafile {d}/ca.pem\n\
         certfile {d}/server.pem\nkeyfile {d}/server.key\nrequire_certificate true\n"
    ));
    port
}

fn tls_config(broker: &Broker, port: u16, ca: &str, client: bool) -> String {
    let d = broker.dir().display();
    let client = if client {
        format!("    cert_file: {d}/client.pem\n    key_file: {d}/client.key\n")
    } else {
        String::new()
    };
    mqtt_config(broker, "", "").replace(
        &format!("port: {}\n", broker.port),
        &format!("port: {port}\n"),
    ) + &format!("  tls:\n    ca_file: {d}/{ca}\n{client}")
}

#[test]
fn states_reach_a_tls_broker_with_a_client_certificate() {
    let mut broker = Broker::start();
    let port = tls_broker(&mut broker);
    let mut sub = Subscriber::start(&broker, "viewtron/#");
    let bridge = Bridge::start(&tls_config(&broker, port, "ca.pem", true));
    bridge.wait_metric("viewtron_bridge_mqtt_connected", |n| n == 1);
    bridge.post(&plate_post("Gate", "TLS 1"));
    let state = sub.expect("viewtron/gate_127_0_0_1/lpr").json();
    assert_eq!(state["plate_number"], "TLS 1");
}

#[test]
fn a_broker_certificate_from_another_ca_is_refused_and_said_so() {
    let mut broker = Broker::start();
    let port = tls_broker(&mut broker);
    let bridge = Bridge::start(&tls_config(&broker, port, "other-ca.pem", true));
    let deadline = Instant::now() + WAIT;
    while !bridge.log_text().contains("invalid peer certificate") {
        assert!(
            Instant::now() < deadline,
            "no clear TLS error; log:\n{}",
            bridge.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(bridge.metric("viewtron_bridge_mqtt_connected"), 0);
}

#[test]
fn without_its_client_certificate_the_broker_refuses_the_bridge() {
    let mut broker = Broker::start();
    let port = tls_broker(&mut broker);
    let bridge = Bridge::start(&tls_config(&broker, port, "ca.pem", false));
    let deadline = Instant::now() + WAIT;
    while !bridge.log_text().contains("cannot connect to MQTT broker") {
        assert!(Instant::now() < deadline, "log:\n{}", bridge.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(bridge.metric("viewtron_bridge_mqtt_connected"), 0);
}

#[test]
fn an_unusable_tls_file_is_one_line_and_exit_2() {
    let dir = TempDir::new("tls-files");
    fs::write(dir.path().join("garbage.pem"), "not a certificate\n").unwrap();
    let cases = [
        ("ca_file: garbage.pem", "mqtt.tls.ca_file"),
        ("ca_file: missing.pem", "mqtt.tls.ca_file"),
        ("cert_file: garbage.pem", "mqtt.tls"),
    ];
    for (tls, key) in cases {
        let config = dir.path().join("config.yaml");
        fs::write(
            &config,
            format!("mqtt:\n  enabled: true\n  tls:\n    {tls}\n"),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_viewtron-bridge"))
            .arg("--config")
            .arg(&config)
            .arg("--check")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{tls}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{tls}: {stderr}");
        assert!(stderr.contains(key), "{tls}: {stderr}");
    }
}
