//! `viewtron-bridge --health`, the container image's health check: the real
//! binary asked about a real bridge on a free loopback port, found through a
//! configuration file and through the Docker variables (as in the image).

mod support;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// Runs `viewtron-bridge --health` in `dir` with `args` and `env` (the
/// Docker variables of the tests' own environment removed first).
fn health(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_viewtron-bridge"));
    command
        .arg("--health")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null());
    without_docker_vars(&mut command);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run viewtron-bridge --health")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Exit 0 and silence while the bridge answers 200; exit 1 and one line once
/// nothing listens.
#[test]
fn health_follows_the_running_bridge() {
    let config = "bridge_port: {port}\nsave_images: false\nserver:\n  bind: 127.0.0.1\n";
    let mut bridge = Bridge::start(config);
    bridge.wait_health(200);
    let path = bridge.dir.path().join("config.yaml");
    let path = path.to_str().unwrap();
    let empty = TempDir::new("health-cwd");

    let out = health(empty.path(), &["--config", path], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());

    // As in the image: no file, the port from BRIDGE_PORT.
    let port = bridge.port.to_string();
    let out = health(empty.path(), &[], &[("BRIDGE_PORT", &port)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    assert!(bridge.terminate().success());
    let out = health(empty.path(), &["--config", path], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "viewtron-bridge: health: http://127.0.0.1:{port}/healthz: "
        )),
        "{err}"
    );
}

/// A bridge that serves but is not healthy (MQTT on, no broker): `503` is a
/// failure, said with its reason.
#[test]
fn health_fails_on_503() {
    let no_broker = free_port();
    let config = format!(
        "bridge_port: {{port}}\nsave_images: false\nserver:\n  bind: 127.0.0.1\nmqtt:\n  enabled: true\n  broker: 127.0.0.1\n  port: {no_broker}\n"
    );
    let bridge = Bridge::start(&config);
    bridge.wait_health(503);
    let path = bridge.dir.path().join("config.yaml");
    let out = health(
        bridge.dir.path(),
        &["--config", path.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/healthz: 503"), "{err}");
}

/// A listener that accepts and never answers: exit 1 within the check's own
/// timeout (3 s), not the container runtime's.
#[test]
fn health_gives_up_on_a_silent_listener() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = TempDir::new("health-silent");
    let path = dir.path().join("config.yaml");
    std::fs::write(
        &path,
        format!("bridge_port: {port}\nserver:\n  bind: 127.0.0.1\n"),
    )
    .unwrap();
    let start = Instant::now();
    let out = health(dir.path(), &["--config", path.to_str().unwrap()], &[]);
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no answer within"),
        "{}",
        stderr(&out)
    );
    assert!(took < Duration::from_secs(6), "took {took:?}");
    drop(listener);
}

/// A configuration error is a failed check (exit 1, not the usual 2).
#[test]
fn health_with_a_bad_configuration_fails() {
    let dir = TempDir::new("health-bad");
    let out = health(dir.path(), &[], &[("BRIDGE_PORT", "lots")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("configuration error"),
        "{}",
        stderr(&out)
    );
}
