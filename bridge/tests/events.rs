//! Home Assistant `event` entities (issue 20, part 1) against a real
//! mosquitto: the same plate twice fires twice, the event type tells
//! allowed, denied and unknown plates (and intrusion kinds) apart, the
//! entity's discovery config sits on the vendor's device, and
//! `mqtt.event_entities: false` turns them off.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::*;

const EVENT: &str = "viewtron/gate_127_0_0_1/lpr/event";

/// The next event message on `topic`.
fn next_event(sub: &mut Subscriber, topic: &str) -> Value {
    let m = sub.expect(topic);
    assert!(!m.retain, "event messages are not retained");
    m.json()
}

#[test]
fn the_same_plate_twice_fires_two_events() {
    let broker = Broker::start();
    let mut sub = Subscriber::start(&broker, "viewtron/#");
    let bridge = Bridge::start(&mqtt_config(&broker, "", ""));
    bridge.wait_health(200);
    let post = plate_post_in_group("Gate", "AB 123", "whiteList");
    bridge.post(&post);
    let first = next_event(&mut sub, EVENT);
    bridge.post(&post);
    let second = next_event(&mut sub, EVENT);
    for e in [&first, &second] {
        assert_eq!(e["event_type"], "allowed", "{e}");
        assert_eq!(e["plate_number"], "AB 123");
        assert_eq!(e["plate_status"], "whiteList");
        assert_eq!(e["camera_name"], "Gate");
        assert_eq!(e["camera_ip"], "127.0.0.1");
        assert_eq!(e["alarm_type"], "VEHICE");
        assert!(e["timestamp"].is_string(), "{e}");
        assert!(e.get("plates").is_none(), "no lists in the event: {e}");
    }
    // The vendor's sensor state did not change, which is why the event is there.
    let states: Vec<_> = sub
        .seen
        .iter()
        .filter(|m| m.topic == "viewtron/gate_127_0_0_1/lpr")
        .map(|m| m.json()["plate_number"].clone())
        .collect();
    assert_eq!(states, ["AB 123", "AB 123"]);
}

#[test]
fn allowed_denied_temporary_unknown_and_unread_plates_are_told_apart() {
    let broker = Broker::start();
    let mut sub = Subscriber::start(&broker, "viewtron/+/lpr/event");
    let bridge = Bridge::start(&mqtt_config(&broker, "", ""));
    bridge.wait_health(200);
    for (number, group, want) in [
        ("AB 123", "whiteList", "allowed"),
        ("ZZ 999", "blackList", "denied"),
        ("TT 100", "temporaryList", "temporary"),
        ("QQ 555", "", "unknown"),
        ("RR 777", "Residents", "unknown"),
        ("", "whiteList", "no_plate"),
    ] {
        bridge.post(&plate_post_in_group("Gate", number, group));
        let e = next_event(&mut sub, EVENT);
        assert_eq!(e["event_type"], want, "{number} {group}: {e}");
        assert_eq!(e["plate_number"], number);
    }
}

#[test]
fn intrusion_kinds_faces_and_counts_have_their_types() {
    let broker = Broker::start();
    let mut sub = Subscriber::start(&broker, "viewtron/#");
    let bridge = Bridge::start(&mqtt_config(&broker, "", ""));
    bridge.wait_health(200);
    for (name, topic, want) in [
        ("v1-intrusion-aoientry.xml", "intrusion/event", "entry"),
        ("v1-intrusion-aoileave.xml", "intrusion/event", "exit"),
        ("v1-intrusion-loiter.xml", "intrusion/event", "loiter"),
        (
            "v1-intrusion-pea-tripwire.xml",
            "intrusion/event",
            "line_crossing",
        ),
        (
            "v2-intrusion-region-intrusion.xml",
            "intrusion/event",
            "region_intrusion",
        ),
        ("v1-face-vfd-match.xml", "face/event", "matched"),
        ("v1-counting-traffic.xml", "counting/event", "area"),
    ] {
        let body = fixture(name);
        bridge.post(&body);
        let m = sub.expect_where(name, |m| {
            m.topic.ends_with(topic)
                && m.json()["alarm_type"]
                    .as_str()
                    .is_some_and(|t| String::from_utf8_lossy(&body).contains(&format!(">{t}<")))
        });
        assert_eq!(m.json()["event_type"], want, "{name}");
    }
}

#[test]
fn the_event_entity_is_on_the_vendors_device() {
    let broker = Broker::start();
    let mut sub = Subscriber::start(&broker, "homeassistant/#");
    let bridge = Bridge::start(&mqtt_config(&broker, "", ""));
    bridge.wait_health(200);
    bridge.post(&plate_post_in_group("Gate", "AB 123", "blackList"));
    let vendor = sub
        .find_or_expect("the plate sensor's config", |m| {
            m.topic == "homeassistant/sensor/gate_127_0_0_1/plate/config"
        })
        .json();
    let topic = "homeassistant/event/gate_127_0_0_1/plate/config";
    let ours = sub
        .find_or_expect("the event entity's config", |m| m.topic == topic)
        .json();
    // Retained, as the vendor's configs (a new subscriber gets it).
    assert!(Subscriber::start(&broker, topic).expect(topic).retain);
    assert_eq!(ours["device"], vendor["device"]);
    assert_eq!(
        ours["device"]["identifiers"],
        serde_json::json!(["viewtron_gate_127_0_0_1"])
    );
    assert_eq!(ours["unique_id"], "viewtron_gate_127_0_0_1_plate_event");
    assert_eq!(ours["name"], "License Plate Event");
    assert_eq!(ours["state_topic"], EVENT);
    assert_eq!(
        ours["event_types"],
        serde_json::json!(["allowed", "denied", "temporary", "unknown", "no_plate"])
    );
    assert_eq!(ours["availability_topic"], vendor["availability_topic"]);
    // The vendor's configs come first, unchanged.
    let topics: Vec<&str> = sub.seen.iter().map(|m| m.topic.as_str()).collect();
    let at = |t: &str| topics.iter().position(|x| *x == t).unwrap();
    assert!(
        at("homeassistant/image/gate_127_0_0_1/target/config")
            < at("homeassistant/event/gate_127_0_0_1/plate/config")
    );
    assert!(vendor.get("event_types").is_none());
}

#[test]
fn event_entities_can_be_turned_off() {
    let broker = Broker::start();
    let mut sub = Subscriber::start(&broker, "#");
    let config = mqtt_config(
        &broker,
        "  event_entities: false\n  first_state_delay: 0\n",
        "",
    );
    let bridge = Bridge::start(&config);
    bridge.wait_health(200);
    bridge.post(&plate_post_in_group("Gate", "AB 123", "whiteList"));
    bridge.post(&fixture("v1-intrusion-aoientry.xml"));
    // One publisher, one connection, QoS 1: what it queued before the last
    // post's state arrives before it.
    sub.find_or_expect("the intrusion state", |m| m.topic.ends_with("/intrusion"));
    sub.drain(Duration::from_millis(300));
    let ours: Vec<&str> = sub
        .seen
        .iter()
        .map(|m| m.topic.as_str())
        .filter(|t| t.ends_with("/event") || t.starts_with("homeassistant/event/"))
        .collect();
    assert!(ours.is_empty(), "{ours:?}");
    assert!(sub
        .seen
        .iter()
        .any(|m| m.topic == "viewtron/gate_127_0_0_1/lpr"));
}
