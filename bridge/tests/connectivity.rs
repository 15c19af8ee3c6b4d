//! "Is my camera still sending?" (issue 20, part 2) against a real
//! mosquitto: a camera's connectivity goes `online` with a post, keepalives
//! included, and `offline` after `mqtt.camera_timeout` of silence; a
//! keepalive (which names no camera id) reaches the device its events made,
//! also after a restart of the bridge (the state file); a camera heard only
//! by keepalive gets an id by the vendor's rule (the address alone without a
//! name) until its first event names it.

mod support;

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

/// A bridge config: `camera_timeout` seconds, posts from 127.0.0.1 may name
/// their camera in X-Forwarded-For, and `extra` top-level keys.
fn config(broker: &Broker, timeout: &str, extra: &str) -> String {
    format!(
        "bridge_port: {{port}}\nsave_images: false\n\
         server:\n  bind: 127.0.0.1\n  trusted_proxies: [127.0.0.1]\n\
         mqtt:\n  enabled: true\n  broker: 127.0.0.1\n  port: {}\n  camera_timeout: {timeout}\n{extra}",
        broker.port
    )
}

/// POSTs `body` as the camera at `camera` (through X-Forwarded-For unless
/// it is 127.0.0.1); an empty body is a keepalive. Panics unless 200.
fn post_from(port: u16, camera: &str, body: &[u8]) {
    let mut tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let forwarded = if camera == "127.0.0.1" {
        String::new()
    } else {
        format!("X-Forwarded-For: {camera}\r\n")
    };
    let head = format!(
        "POST / HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/xml\r\n{forwarded}\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).unwrap();
    tcp.write_all(body).unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "answer: {answer}");
}

/// The next status (`online` / `offline`) on `topic`.
fn next_status(sub: &mut Subscriber, topic: &str) -> (String, Value) {
    let m = sub.expect(topic);
    let v = m.json();
    (v["status"].as_str().unwrap_or_default().to_owned(), v)
}

const GATE: &str = "viewtron/gate_127_0_0_1/connection";

#[test]
fn a_posting_camera_is_online_then_offline_after_the_timeout() {
    let broker = Broker::start();
    let mut sub = Subscriber::start(&broker, "#");
    let bridge = Bridge::start(&config(&broker, "1", ""));
    bridge.wait_health(200);
    let posted = Instant::now();
    bridge.post(&plate_post("Gate", "AB 123"));
    let (status, v) = next_status(&mut sub, GATE);
    assert_eq!(status, "online");
    assert_eq!(v["camera_ip"], "127.0.0.1");
    let last_seen = v["last_seen"].as_str().unwrap().to_owned();
    assert!(
        last_seen.len() == 25 && last_seen.ends_with("+00:00"),
        "{last_seen}"
    );
    let (status, off) = next_status(&mut sub, GATE);
    let silent = posted.elapsed();
    assert_eq!(status, "offline");
    assert!(
        silent >= Duration::from_millis(950) && silent < Duration::from_secs(4),
        "offline after {silent:?} (timeout 1 s)"
    );
    assert_eq!(off["last_seen"], last_seen.as_str(), "the last post's time");

    // Both entities on the vendor's device of that camera.
    let vendor = sub
        .find_or_expect("the plate sensor's config", |m| {
            m.topic == "homeassistant/sensor/gate_127_0_0_1/plate/config"
        })
        .json();
    for (topic, class) in [
        (
            "homeassistant/binary_sensor/gate_127_0_0_1/connectivity/config",
            "connectivity",
        ),
        (
            "homeassistant/sensor/gate_127_0_0_1/last_seen/config",
            "timestamp",
        ),
    ] {
        let c = sub.find_or_expect(topic, |m| m.topic == topic).json();
        assert_eq!(c["device"], vendor["device"], "{topic}");
        assert_eq!(c["device_class"], class);
        assert_eq!(c["state_topic"], GATE);
        assert_eq!(c["availability_topic"], vendor["availability_topic"]);
    }
    // Retained, for Home Assistant's next start.
    let retained = Subscriber::start(&broker, GATE).expect(GATE);
    assert!(retained.retain);
    assert_eq!(retained.json()["status"], "offline");
    let topic = "homeassistant/binary_sensor/gate_127_0_0_1/connectivity/config";
    assert!(Subscriber::start(&broker, topic).expect(topic).retain);
}

#[test]
fn keepalives_keep_the_named_camera_online() {
    let broker = Broker::start();
    let mut sub = Subscriber::start(&broker, "viewtron/+/connection");
    let bridge = Bridge::start(&config(&broker, "2", ""));
    bridge.wait_health(200);
    bridge.post(&plate_post("Gate", "AB 123"));
    assert_eq!(next_status(&mut sub, GATE).0, "online");
    // Keepalives (no name, no id) every 0.5 s for 4 s: twice the timeout.
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        post_from(bridge.port, "127.0.0.1", b"");
        let quiet = sub.drain(Duration::from_millis(500));
        let off: Vec<_> = quiet
            .iter()
            .filter(|m| m.text().contains("offline"))
            .collect();
        assert!(off.is_empty(), "offline while keepalives came: {off:?}");
    }
    let last = Instant::now();
    assert_eq!(next_status(&mut sub, GATE).0, "offline");
    assert!(last.elapsed() >= Duration::from_millis(1500));
    // A keepalive alone brings the Gate back.
    post_from(
        bridge.port,
        "127.0.0.1",
        &fixture("v1-keepalive-config.xml"),
    );
    assert_eq!(next_status(&mut sub, GATE).0, "online");
    let others: Vec<_> = sub
        .seen
        .iter()
        .filter(|m| m.topic != GATE)
        .map(|m| m.topic.clone())
        .collect();
    assert!(others.is_empty(), "no other camera made up: {others:?}");
}

#[test]
fn the_address_to_camera_map_survives_a_restart() {
    let broker = Broker::start();
    let state = TempDir::new("state");
    let extra = format!("state_dir: {}\n", state.path().display());
    let mut bridge = Bridge::start(&config(&broker, "2", &extra));
    bridge.wait_health(200);
    let mut sub = Subscriber::start(&broker, "viewtron/+/connection");
    bridge.post(&plate_post("Gate", "AB 123"));
    assert_eq!(next_status(&mut sub, GATE).0, "online");
    assert!(bridge.terminate().success());
    let file = fs::read_to_string(state.path().join("cameras.json")).expect("cameras.json");
    let saved: Value = serde_json::from_str(&file).unwrap();
    assert_eq!(
        saved["cameras"]["127.0.0.1"]["devices"][0]["id"], "gate_127_0_0_1",
        "{file}"
    );

    let mut sub = Subscriber::start(&broker, "#");
    let bridge = Bridge::start(&config(&broker, "2", &extra));
    bridge.wait_health(200);
    // The known camera's entities are announced at start.
    sub.find_or_expect("the connectivity config", |m| {
        m.topic == "homeassistant/binary_sensor/gate_127_0_0_1/connectivity/config"
            && !m.payload.is_empty()
    });
    // A keepalive without a name, before any event: the Gate's.
    post_from(bridge.port, "127.0.0.1", b"");
    let m = sub.expect_where("the Gate online after the restart", |m| {
        m.topic == GATE && !m.retain && m.text().contains("\"online\"")
    });
    assert_eq!(m.json()["camera_ip"], "127.0.0.1");
    // Silent: offline, from the restarted bridge.
    sub.expect_where("the Gate offline", |m| {
        m.topic == GATE && m.text().contains("\"offline\"")
    });
    let made_up: Vec<_> = sub
        .seen
        .iter()
        .filter(|m| m.topic.contains("/127_0_0_1/"))
        .map(|m| m.topic.clone())
        .collect();
    assert!(made_up.is_empty(), "{made_up:?}");
}

#[test]
fn a_camera_heard_only_by_keepalive_is_named_by_its_address_until_its_first_event() {
    let broker = Broker::start();
    let mut sub = Subscriber::start(&broker, "#");
    let bridge = Bridge::start(&config(&broker, "30", ""));
    bridge.wait_health(200);
    post_from(bridge.port, "127.0.0.9", b"");
    let provisional = "viewtron/127_0_0_9/connection";
    assert_eq!(next_status(&mut sub, provisional).0, "online");
    let c = sub
        .find_or_expect("its config", |m| {
            m.topic == "homeassistant/binary_sensor/127_0_0_9/connectivity/config"
        })
        .json();
    assert_eq!(c["device"]["name"], "Viewtron 127.0.0.9");
    assert_eq!(c["device"]["identifiers"][0], "viewtron_127_0_0_9");
    // Its first event names it Yard: the provisional entities are deleted
    // (empty retained configs), the Yard's appear on the Yard's device.
    post_from(bridge.port, "127.0.0.9", &plate_post("Yard", "CD 456"));
    for topic in [
        "homeassistant/binary_sensor/127_0_0_9/connectivity/config",
        "homeassistant/sensor/127_0_0_9/last_seen/config",
    ] {
        sub.expect_where(topic, |m| m.topic == topic && m.payload.is_empty());
    }
    let (status, v) = next_status(&mut sub, "viewtron/yard_127_0_0_9/connection");
    assert_eq!(status, "online");
    assert_eq!(v["camera_ip"], "127.0.0.9");
    // A keepalive that names the camera gives that name's id at once.
    post_from(
        bridge.port,
        "127.0.0.7",
        &fixture("v1-keepalive-config.xml"),
    );
    let (status, _) = next_status(&mut sub, "viewtron/staff_entrance_127_0_0_7/connection");
    assert_eq!(status, "online");
}

#[test]
fn camera_timeout_zero_publishes_no_connectivity() {
    let broker = Broker::start();
    let mut sub = Subscriber::start(&broker, "#");
    let config = config(&broker, "0", "") + "  first_state_delay: 0\n";
    let bridge = Bridge::start(&config);
    bridge.wait_health(200);
    bridge.post(&plate_post("Gate", "AB 123"));
    post_from(bridge.port, "127.0.0.1", b"");
    sub.expect("viewtron/gate_127_0_0_1/lpr/event");
    sub.drain(Duration::from_millis(2500));
    let ours: Vec<_> = sub
        .seen
        .iter()
        .filter(|m| m.topic.contains("connectivity") || m.topic.ends_with("/connection"))
        .map(|m| m.topic.clone())
        .collect();
    assert!(ours.is_empty(), "{ours:?}");
}
