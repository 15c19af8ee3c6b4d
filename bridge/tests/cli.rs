//! The command line and configuration errors: one clear line on standard
//! error and exit status 2, never a panic; `--help` documents every flag;
//! the Docker image's variables override the file; secrets stay secret;
//! `--check` prints each setting under its YAML key with where it came
//! from, and warns about settings that would not do what they seem.

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
        for args in [vec!["--config", &path], vec!["--config", &path, "--check"]] {
            let out = bridge(&args, &[], &dir);
            assert_config_error(&out, mentions);
        }
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

/// `--check` on `yaml` (written as ./config.yaml) under `env`: exit status
/// 0, its standard output, with standard error appended (`--verbose`, so
/// anything logged is searched for leaks too).
fn check(yaml: Option<&str>, env: &[(&str, &str)]) -> (String, String) {
    let dir = TempDir::new("cli");
    if let Some(yaml) = yaml {
        fs::write(dir.path().join("config.yaml"), yaml).unwrap();
    }
    let out = bridge(&["--check", "--verbose"], env, &dir);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}{stderr}");
    (stdout.clone(), stdout + &stderr)
}

/// The value and origin `--check` prints for `key`: `  key  value  (origin)`.
fn row<'a>(stdout: &'a str, key: &str) -> Option<(&'a str, &'a str)> {
    stdout.lines().find_map(|line| {
        let rest = line.strip_prefix("  ")?.strip_prefix(key)?;
        if !rest.starts_with("  ") {
            return None;
        }
        let (value, origin) = rest.rsplit_once("  (")?;
        Some((value.trim(), origin.strip_suffix(')')?))
    })
}

fn assert_rows(stdout: &str, want: &[(&str, &str, &str)]) {
    for (key, value, origin) in want {
        assert_eq!(
            row(stdout, key),
            Some((*value, *origin)),
            "row `{key}` in:\n{stdout}"
        );
    }
}

fn warnings(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("warning: "))
        .collect()
}

#[test]
fn check_prints_yaml_keys_values_and_where_each_comes_from() {
    let yaml =
        "bridge_port: 1\nsave_images: true\nmqtt:\n  enabled: true\n  broker: file-broker\n  \
                port: 1999\n  username: u\n  password: file-secret\n  topic_prefix: cams\n";
    let env = [
        ("BRIDGE_PORT", "5099"),
        ("MQTT_PORT", "1884"),
        ("MQTT_PASSWORD", "env-secret"),
        ("SAVE_IMAGES", "false"),
    ];
    let (stdout, all) = check(Some(yaml), &env);
    assert!(
        stdout.starts_with("configuration OK: config.yaml\n"),
        "{stdout}"
    );
    assert_rows(
        &stdout,
        &[
            ("bridge_port", "5099", "env BRIDGE_PORT"),
            ("save_images", "false", "env SAVE_IMAGES"),
            ("mqtt.enabled", "true", "file"),
            ("mqtt.broker", "file-broker", "file"),
            ("mqtt.port", "1884", "env MQTT_PORT"),
            ("mqtt.username", "u", "file"),
            ("mqtt.password", "******** (set)", "env MQTT_PASSWORD"),
            ("mqtt.topic_prefix", "cams", "file"),
            ("mqtt.discovery_prefix", "homeassistant", "default"),
            ("mqtt.expire_after", "30", "default"),
            ("mqtt.queue_max_mb", "64", "default"),
            ("dedup_seconds", "off", "default"),
            ("home_assistant.url", "(none)", "default"),
            ("server.bind", "::", "default"),
            ("server.workers", "library default", "default"),
            ("server.basic_auth", "(none)", "default"),
        ],
    );
    assert!(
        row(&stdout, "image_dir").is_none(),
        "images are off:\n{stdout}"
    );
    assert!(warnings(&stdout).is_empty(), "{stdout}");
    // What a user reads, not Rust's Debug output.
    for debug in ["Config {", "Some(", "None", "Secret", "{", "\"", "Duration"] {
        assert!(!stdout.contains(debug), "`{debug}` in:\n{stdout}");
    }
    assert!(
        !all.contains("env-secret") && !all.contains("file-secret"),
        "a password leaked:\n{all}"
    );

    // No file at all: the Docker image's defaults (MQTT on, images off).
    let (stdout, _) = check(None, &[("MQTT_BROKER", "core-mosquitto")]);
    assert!(
        stdout.starts_with("configuration OK: environment (Docker image defaults)\n"),
        "{stdout}"
    );
    assert_rows(
        &stdout,
        &[
            ("bridge_port", "5002", "default"),
            ("save_images", "false", "default (Docker image)"),
            ("mqtt.enabled", "true", "default (Docker image)"),
            ("mqtt.broker", "core-mosquitto", "env MQTT_BROKER"),
            ("mqtt.port", "1883", "default"),
            ("mqtt.password", "(none)", "default"),
            (
                "home_assistant.url",
                "http://supervisor/core",
                "default (Docker image)",
            ),
            ("home_assistant.webhooks", "(none)", "default"),
        ],
    );
    assert!(warnings(&stdout).is_empty(), "{stdout}");
}

#[test]
fn check_shows_the_other_sections_in_the_files_terms() {
    let yaml =
        "image_retention_days: 1.5\ndedup_seconds: 10\nhome_assistant:\n  url: http://ha:8123/\n  \
                webhooks: {lpr: wh-lpr-5e1f, all: wh-all-0c2d}\n  webhook_retries: 4\nserver:\n  \
                allow: [192.168.1.0/24, 10.0.0.0/8]\n  paths: [/API]\n  \
                basic_auth: {username: cam, password: sesame-J3x}\n";
    let (stdout, all) = check(Some(yaml), &[]);
    assert_rows(
        &stdout,
        &[
            ("save_images", "true", "default"),
            ("image_retention_days", "1.5", "file"),
            ("image_max_mb", "off", "default"),
            ("dedup_seconds", "10", "file"),
            ("mqtt.enabled", "false", "default"),
            ("home_assistant.url", "http://ha:8123", "file"),
            (
                "home_assistant.webhooks.all",
                "wh-a… (11 characters)",
                "file",
            ),
            (
                "home_assistant.webhooks.lpr",
                "wh-l… (11 characters)",
                "file",
            ),
            ("home_assistant.webhook_timeout", "5", "default"),
            ("home_assistant.webhook_retries", "4", "file"),
            ("server.allow", "192.168.1.0/24, 10.0.0.0/8", "file"),
            ("server.trusted_proxies", "nobody", "default"),
            ("server.paths", "/API", "file"),
            ("server.basic_auth.username", "cam", "file"),
            ("server.basic_auth.password", "******** (set)", "file"),
        ],
    );
    // MQTT off: its settings are not listed.
    assert!(row(&stdout, "mqtt.broker").is_none(), "{stdout}");
    let dir = row(&stdout, "image_dir").expect("image_dir").0;
    assert!(dir.ends_with("images"), "{stdout}");
    assert!(!all.contains("sesame"), "a password leaked:\n{all}");
    // Webhook ids fire their automation for anyone who knows them: not in
    // the report, not in the (verbose) log.
    assert!(
        !all.contains("5e1f") && !all.contains("0c2d"),
        "a webhook id leaked:\n{all}"
    );
}

#[test]
fn check_never_prints_a_password_from_the_file_or_the_environment() {
    let yaml = "mqtt:\n  enabled: true\n  username: u\n  password: Fi1e-Pa55-Q8z\n";
    let (from_file, all) = check(Some(yaml), &[]);
    assert_rows(&from_file, &[("mqtt.password", "******** (set)", "file")]);
    assert!(!all.contains("Fi1e-Pa55-Q8z"), "a password leaked:\n{all}");
    let long = "Env-Pa55-V5m-and-then-some-more-to-be-longer";
    let (from_env, all) = check(Some(yaml), &[("MQTT_PASSWORD", long)]);
    assert_rows(
        &from_env,
        &[("mqtt.password", "******** (set)", "env MQTT_PASSWORD")],
    );
    assert!(
        !all.contains("Env-Pa55") && !all.contains("Fi1e-Pa55"),
        "a password leaked:\n{all}"
    );
}

#[test]
fn check_warns_about_settings_that_would_not_do_what_they_seem() {
    const NOTHING: &str = "nothing is published";
    const MQTT_OFF: &str = "set `enabled: true` under `mqtt:`";
    const ANONYMOUS: &str = "never sends the password";
    const NO_IMAGES: &str = "no image is saved";
    let webhook = "home_assistant: {url: http://h, webhooks: {lpr: x}}\n";
    let with_webhook = |yaml: &str| format!("{yaml}{webhook}");
    // Exactly the warnings `want`, told apart by the words above.
    let expect = |yaml: &str, env: &[(&str, &str)], want: &[&str]| {
        let (stdout, _) = check(Some(yaml), env);
        let got = warnings(&stdout);
        assert_eq!(got.len(), want.len(), "{yaml} {env:?}:\n{stdout}");
        for kind in [NOTHING, MQTT_OFF, ANONYMOUS, NO_IMAGES] {
            assert_eq!(
                got.iter().any(|w| w.contains(kind)),
                want.contains(&kind),
                "`{kind}` for {yaml} {env:?}:\n{stdout}"
            );
        }
    };
    // Fine as they are.
    expect("mqtt: {enabled: true}\n", &[], &[]);
    expect(webhook, &[], &[]);
    expect(
        &with_webhook("mqtt: {enabled: false, broker: b}\n"),
        &[],
        &[],
    );
    expect(
        "mqtt: {enabled: true, username: u, password: p}\n",
        &[],
        &[],
    );
    expect("mqtt: {enabled: true}\nimage_dir: pics\n", &[], &[]);
    // MQTT off and no webhook.
    expect("bridge_port: 5002\n", &[], &[NOTHING]);
    let port = [("MQTT_PORT", "1884")];
    expect("mqtt: {enabled: false}\n", &port, &[NOTHING, MQTT_OFF]);
    // MQTT settings without `enabled: true`, or variables with MQTT off.
    expect(
        &with_webhook("mqtt: {broker: b, port: 1884}\n"),
        &[],
        &[MQTT_OFF],
    );
    let broker = [("MQTT_BROKER", "b")];
    expect(
        &with_webhook("mqtt: {enabled: false}\n"),
        &broker,
        &[MQTT_OFF],
    );
    // A password without a user name is never sent.
    expect("mqtt: {enabled: true, password: p}\n", &[], &[ANONYMOUS]);
    let password = [("MQTT_PASSWORD", "p")];
    expect("mqtt: {enabled: true}\n", &password, &[ANONYMOUS]);
    // Image settings with images off.
    let yaml = "mqtt: {enabled: true}\nsave_images: false\nimage_max_mb: 100\n";
    expect(yaml, &[], &[NO_IMAGES]);
    let off = [("SAVE_IMAGES", "false")];
    expect(
        "mqtt: {enabled: true}\nimage_dir: pics\n",
        &off,
        &[NO_IMAGES],
    );

    // Each warning names what it is about.
    let (stdout, _) = check(
        Some(&with_webhook("mqtt: {broker: b}\n")),
        &[("MQTT_PORT", "1884")],
    );
    assert!(
        stdout.contains("warning: mqtt.enabled is not set (the default is false), so mqtt.broker, env MQTT_PORT are ignored"),
        "{stdout}"
    );
    let (stdout, _) = check(
        Some("mqtt: {enabled: true}\nimage_dir: pics\n"),
        &[("SAVE_IMAGES", "no")],
    );
    assert!(
        stdout.contains("warning: save_images is false (env SAVE_IMAGES), so image_dir is ignored"),
        "{stdout}"
    );
}
