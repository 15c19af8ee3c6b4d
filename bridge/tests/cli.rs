//! The command line and configuration errors: one clear line on standard
//! error and exit status 2, never a panic; `--help` documents every flag;
//! the Docker image's variables override the file; secrets stay secret.

mod support;

use std::fs;
use std::process::{Command, Output};

use support::{without_docker_vars, TempDir, DOCKER_VARS};

fn bridge(args: &[&str], env: &[(&str, &str)], dir: &TempDir) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_viewtron-bridge"));
    without_docker_vars(&mut command)
        .args(args)
        .current_dir(dir.path())
        .env_remove("RUST_LOG");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run viewtron-bridge")
}

fn with_config(text: &str) -> (TempDir, String) {
    let dir = TempDir::new("cli");
    let path = dir.path().join("config.yaml");
    fs::write(&path, text).unwrap();
    let path = path.display().to_string();
    (dir, path)
}

/// Exit 2, one line naming the problem, no panic.
fn assert_config_error(out: &Output, mentions: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(mentions), "`{mentions}` not in: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn config_errors_are_one_line_and_exit_2() {
    for (yaml, mentions) in [
        ("save_image: true\n", "save_image"),
        ("mqtt:\n  enabled: true\n  brokr: x\n", "brokr"),
        ("bridge_port: lots\n", "bridge_port"),
        ("bridge_port: 70000\n", "bridge_port"),
        ("mqtt:\n  enabled: yes please\n", "enabled"),
        (
            "home_assistant:\n  webhooks: {lpr: x}\n",
            "home_assistant.url",
        ),
        (
            "home_assistant:\n  url: http://h\n  webhooks: {plates: x}\n",
            "plates",
        ),
        ("server:\n  allow: [not-a-network]\n", "server.allow"),
        (
            "mqtt:\n  enabled: true\n  topic_prefix: a/#\n",
            "mqtt.topic_prefix",
        ),
        ("bridge_port: [\n", "config.yaml"),
        ("- just\n- a list\n", "config.yaml"),
    ] {
        let (dir, path) = with_config(yaml);
        let out = bridge(&["--config", &path], &[], &dir);
        assert_config_error(&out, mentions);
    }
}

#[test]
fn a_missing_file_or_a_bad_variable_is_one_line_and_exit_2() {
    let dir = TempDir::new("cli");
    let out = bridge(&["--config", "nowhere.yaml"], &[], &dir);
    assert_config_error(&out, "nowhere.yaml");
    // No --config and no ./config.yaml, no Docker variables either.
    let out = bridge(&[], &[], &dir);
    assert_config_error(&out, "config.yaml");
    let (dir, path) = with_config("bridge_port: 5002\n");
    for (var, value) in [
        ("BRIDGE_PORT", "x"),
        ("MQTT_PORT", "99999"),
        ("SAVE_IMAGES", "maybe"),
    ] {
        let out = bridge(&["--config", &path, "--check"], &[(var, value)], &dir);
        assert_config_error(&out, var);
    }
    let out = bridge(&["--no-such-flag"], &[], &dir);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_documents_every_flag() {
    let dir = TempDir::new("cli");
    let out = bridge(&["--help"], &[], &dir);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    // Every Docker variable the tests keep out of the bridges they start.
    let flags = ["--config", "--check", "--verbose", "--help", "--version"];
    for flag in flags.into_iter().chain(DOCKER_VARS).chain(["/metrics"]) {
        assert!(
            help.contains(flag),
            "--help does not mention {flag}:\n{help}"
        );
    }
}

#[test]
fn the_docker_variables_override_the_file_and_passwords_stay_hidden() {
    let (dir, path) = with_config(
        "bridge_port: 1\nsave_images: true\nmqtt:\n  enabled: true\n  broker: file-broker\n  username: u\n  password: file-secret\n",
    );
    let env = [
        ("BRIDGE_PORT", "5099"),
        ("MQTT_BROKER", "env-broker"),
        ("MQTT_PORT", "1884"),
        ("MQTT_PASSWORD", "env-secret"),
        ("SAVE_IMAGES", "false"),
    ];
    let out = bridge(&["--config", &path, "--check", "--verbose"], &env, &dir);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    for want in [
        "bridge_port: 5099",
        "broker: \"env-broker\"",
        "port: 1884",
        "save_images: false",
    ] {
        assert!(text.contains(want), "`{want}` not in:\n{text}");
    }
    assert!(
        !text.contains("env-secret") && !text.contains("file-secret"),
        "a password leaked:\n{text}"
    );

    // No file at all: the Docker image's defaults (MQTT on, images off).
    let empty = TempDir::new("cli");
    let out = bridge(&["--check"], &[("MQTT_BROKER", "core-mosquitto")], &empty);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("broker: \"core-mosquitto\"") && text.contains("save_images: false"),
        "{text}"
    );
}
