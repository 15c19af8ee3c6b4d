//! Smoke tests for the examples that run unattended, and for the `sink`
//! benchmark rig (`bench/rigs/`): each is built, started as a child process
//! on loopback (`programs/`), fed camera posts over raw TCP, and judged by
//! what it prints. `examples_lpr.rs` runs them on the LPR fixtures.

mod common;
mod programs;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{assert_success, ALARM_V2, INTRUSION_V2, LPR_V1, TIMEOUT, TRAJECT};
use programs::{free_port, loopback, Guard, STARTUP};
use serde_json::Value;

/// Runs `sink PORT 3 [extra]`, posts three events and a keepalive, and
/// returns its summary line.
fn run_sink(extra: &[&str]) -> String {
    let port = free_port();
    let port_text = port.to_string();
    let mut args = vec![port_text.as_str(), "3"];
    args.extend_from_slice(extra);
    let mut sink = Guard::start("sink", &args);
    {
        let mut camera = sink.connect(loopback(port));
        for body in [LPR_V1, "", INTRUSION_V2, TRAJECT] {
            assert_success(&camera.post("/API", body));
        }
    } // the camera hangs up
    let status = sink.wait(STARTUP + Duration::from_secs(3));
    assert!(status.success(), "sink exited with {status}");
    let out = sink.drain_stdout();
    assert_eq!(out.len(), 1, "sink prints one line: {out:?}");
    out.into_iter().next().unwrap()
}

#[test]
fn sink_counts_events_from_the_callback() {
    let summary = run_sink(&[]);
    assert_eq!(summary, "events=3 keepalives=1 requests=4");
}

#[test]
fn sink_counts_events_from_the_channel() {
    let summary = run_sink(&["--channel"]);
    assert_eq!(summary, "events=3 keepalives=1 requests=4");
}

#[test]
fn sink_refuses_bad_arguments() {
    for args in [
        &[][..],
        &["5050"],
        &["5050", "x"],
        &["5050", "1", "--bogus"],
    ] {
        let mut sink = Guard::start("sink", args);
        let status = sink.wait(STARTUP);
        assert_eq!(status.code(), Some(2), "sink {args:?}");
        sink.expect_stderr("usage: sink", Instant::now() + TIMEOUT);
    }
}

const MOTION_V1: &str = "<config version=\"1.7\"><smartType>MOTION</smartType></config>";

#[test]
fn listen_json_prints_only_json_lines() {
    let port = free_port();
    let port_text = port.to_string();
    let mut listen = Guard::start(
        "listen",
        &["--port", &port_text, "--bind", "127.0.0.1", "--json"],
    );
    let mut camera = listen.connect(loopback(port));
    for body in [LPR_V1, "", ALARM_V2, MOTION_V1, "not xml <"] {
        assert_success(&camera.post("/API", body));
    }

    // Workers answer before they print, so lines may come in any order.
    let deadline = Instant::now() + STARTUP;
    let mut by_kind: HashMap<String, Vec<Value>> = HashMap::new();
    while by_kind.len() < 5 {
        let line = listen.next_line(deadline);
        let value: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert_eq!(value["camera_ip"], "127.0.0.1", "{line}");
        let kind = value["kind"].as_str().expect("a kind").to_owned();
        by_kind.entry(kind).or_default().push(value);
    }
    let one = |kind: &str| -> &Value {
        let values = by_kind
            .get(kind)
            .unwrap_or_else(|| panic!("no {kind}: {by_kind:?}"));
        assert_eq!(values.len(), 1, "one {kind} line: {values:?}");
        &values[0]
    };
    assert_eq!(
        one("connect"),
        &serde_json::json!({"kind": "connect", "camera_ip": "127.0.0.1"})
    );
    let event = one("event");
    assert_eq!(event["category"], "lpr");
    assert_eq!(event["plate"]["number"], "TST 042");
    assert_eq!(event["plate"]["group"], "whiteList");
    assert_eq!(event["device"]["name"], "North Gate");
    let alarm = one("alarm_status");
    assert_eq!(alarm["alarms"][0]["name"], "perimeterAlarm");
    assert_eq!(alarm["alarms"][0]["active"], true);
    let unrecognized = one("unrecognized");
    assert_eq!(unrecognized["reason"], "unknown-smartType");
    assert_eq!(unrecognized["smart_type"], "MOTION");
    assert!(one("error")["error"]
        .as_str()
        .is_some_and(|e| e.starts_with("parse-error")));

    // The banner went to stderr, not into the JSON.
    listen.expect_stderr("Ready for camera events...", Instant::now() + TIMEOUT);
} // the guard kills `listen`

#[test]
fn listen_text_prints_one_line_per_event() {
    let port = free_port();
    let port_text = port.to_string();
    let mut listen = Guard::start("listen", &["--port", &port_text, "--bind", "127.0.0.1"]);
    let mut camera = listen.connect(loopback(port));
    // The banner comes once the socket is bound: read it before posting, so
    // that no event line can race it.
    let deadline = Instant::now() + STARTUP;
    let banner: Vec<String> = (0..3).map(|_| listen.next_line(deadline)).collect();
    assert_eq!(banner[0], "Viewtron Event Server");
    assert_eq!(banner[1], format!("Listening on http://127.0.0.1:{port}"));
    assert_eq!(banner[2], "Ready for camera events...");

    assert_success(&camera.post("/API", LPR_V1));
    assert_eq!(listen.next_line(deadline), "Camera connected: 127.0.0.1");
    assert_eq!(
        listen.next_line(deadline),
        "[lpr] License Plate Detection from 127.0.0.1  plate=\"TST 042\" group=whiteList"
    );
}

#[test]
fn listen_refuses_bad_flags() {
    for args in [
        &["--bogus"][..],
        &["--port"],
        &["--port", "70000"],
        &["--json=yes"],
    ] {
        let mut listen = Guard::start("listen", args);
        let status = listen.wait(STARTUP);
        assert_eq!(status.code(), Some(2), "listen {args:?}");
        listen.expect_stderr("usage: listen", Instant::now() + TIMEOUT);
    }
    let mut help = Guard::start("listen", &["--help"]);
    assert!(help.wait(STARTUP).success());
    assert!(help.drain_stdout()[0].starts_with("usage: listen"));
}

#[test]
fn listen_metrics_counts_what_it_answered() {
    let port = free_port();
    let port_text = port.to_string();
    let args = ["--port", &port_text, "--bind", "127.0.0.1", "--metrics"];
    let mut listen = Guard::start("listen", &args);
    let mut camera = listen.connect(loopback(port));
    assert_success(&camera.post("/API", LPR_V1));
    assert_success(&camera.post("/API", ""));
    // Workers answer before they count what they parsed: ask until the
    // counters show both posts (bounded).
    let want = [
        "viewtron_events_total{category=\"lpr\"} 1",
        "viewtron_keepalives_total 1",
        "viewtron_cameras 1",
        "viewtron_camera_last_seen_seconds{ip=\"127.0.0.1\",name=\"North Gate\"}",
    ];
    let deadline = Instant::now() + TIMEOUT;
    loop {
        camera.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        let metrics = camera.read_response();
        assert_eq!(metrics.status, 200);
        assert!(metrics
            .header("Content-Type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")));
        let text = metrics.text();
        let missing: Vec<_> = want
            .iter()
            .filter(|w| !text.lines().any(|l| l.starts_with(*w)))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still missing {missing:?} in:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
