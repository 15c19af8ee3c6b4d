//! The bridge against a real mosquitto: discovery and state for every
//! category, retained LPR state and images, availability and the last will,
//! Home Assistant's birth message, and two bridges on one broker.

mod support;

use std::time::Duration;

use support::*;

/// One fixture per category and layout, with the state topic it must reach.
const EVERY_CATEGORY: [(&str, &str); 10] = [
    (
        "v1-lpr-vehice.xml",
        "viewtron/harbour_gate_lpr_127_0_0_1/lpr",
    ),
    ("v2-lpr-vehicle.xml", "viewtron/depot_nvr_16_127_0_0_1/lpr"),
    ("v1-face-vfd.xml", "viewtron/staff_entrance_127_0_0_1/face"),
    (
        "v2-face-video-face-detect.xml",
        "viewtron/depot_nvr_16_127_0_0_1/face",
    ),
    (
        "v1-intrusion-pea-perimeter.xml",
        "viewtron/fence_north_127_0_0_1/intrusion",
    ),
    (
        "v2-intrusion-region-intrusion.xml",
        "viewtron/yard_fuel_bay_127_0_0_1/intrusion",
    ),
    (
        "v1-counting-passlinecount.xml",
        "viewtron/turnstile_hall_127_0_0_1/counting",
    ),
    (
        "v2-counting-target-counting-by-area.xml",
        "viewtron/depot_nvr_16_127_0_0_1/counting",
    ),
    (
        "v1-metadata-vsd.xml",
        "viewtron/plaza_overview_127_0_0_1/metadata",
    ),
    (
        "v2-metadata-video-metadata.xml",
        "viewtron/depot_nvr_16_127_0_0_1/metadata",
    ),
];

#[test]
fn every_category_gets_discovery_then_state() {
    let broker = Broker::start();
    let mut sub = Subscriber::start(&broker, "#");
    let bridge = Bridge::start(&mqtt_config(&broker, "", ""));
    bridge.wait_health(200);
    for (fixture_name, state_topic) in EVERY_CATEGORY {
        assert!(bridge.post(&fixture(fixture_name)) < ANSWER_BOUND);
        // Events of separate posts may be handled in either order.
        let state = sub.find_or_expect(&format!("state of {fixture_name}"), |m| {
            m.topic == state_topic
        });
        let json = state.json();
        for key in [
            "event_type",
            "event_description",
            "camera_name",
            "camera_ip",
            "timestamp",
        ] {
            assert!(
                json.get(key).is_some(),
                "{fixture_name}: no {key} in {json}"
            );
        }
        assert_eq!(json["camera_ip"], "127.0.0.1");
        for key in ["plates", "faces", "targets"] {
            assert!(
                json[key].is_array(),
                "{fixture_name}: {key} not an array in {json}"
            );
        }
    }
    // Tracking posts are skipped (as the vendor): nothing for them, then a
    // sentinel shows the bridge is past them.
    bridge.post(&fixture("v1-traject.xml"));
    bridge.post(&lpr_post("Sentinel", "END 1"));
    sub.expect("viewtron/sentinel_127_0_0_1/lpr");
    assert!(
        !sub.seen.iter().any(|m| m.topic.contains("traject")),
        "a traject topic was published"
    );

    // Discovery came before each camera's first state, for every entity kind.
    let index = |topic: &str| sub.seen.iter().position(|m| m.topic == topic);
    for (config, state) in [
        (
            "homeassistant/sensor/harbour_gate_lpr_127_0_0_1/plate/config",
            "viewtron/harbour_gate_lpr_127_0_0_1/lpr",
        ),
        (
            "homeassistant/sensor/harbour_gate_lpr_127_0_0_1/plate_authorized/config",
            "viewtron/harbour_gate_lpr_127_0_0_1/lpr",
        ),
        (
            "homeassistant/image/harbour_gate_lpr_127_0_0_1/overview/config",
            "viewtron/harbour_gate_lpr_127_0_0_1/lpr",
        ),
        (
            "homeassistant/image/harbour_gate_lpr_127_0_0_1/target/config",
            "viewtron/harbour_gate_lpr_127_0_0_1/lpr",
        ),
        (
            "homeassistant/binary_sensor/staff_entrance_127_0_0_1/face/config",
            "viewtron/staff_entrance_127_0_0_1/face",
        ),
        (
            "homeassistant/binary_sensor/fence_north_127_0_0_1/intrusion/config",
            "viewtron/fence_north_127_0_0_1/intrusion",
        ),
        (
            "homeassistant/sensor/turnstile_hall_127_0_0_1/counting/config",
            "viewtron/turnstile_hall_127_0_0_1/counting",
        ),
    ] {
        let (c, s) = (index(config), index(state));
        assert!(c.is_some() && c < s, "{config} at {c:?}, {state} at {s:?}");
        let json = sub.seen[c.unwrap()].json();
        assert!(
            json["availability_topic"]
                .as_str()
                .is_some_and(|t| t.ends_with("/availability")),
            "{json}"
        );
        assert!(
            json["unique_id"]
                .as_str()
                .is_some_and(|u| u.starts_with("viewtron_")),
            "{json}"
        );
    }
    let intrusion = sub.seen
        [index("homeassistant/binary_sensor/fence_north_127_0_0_1/intrusion/config").unwrap()]
    .json();
    assert_eq!(intrusion["expire_after"], 30);
    assert_eq!(intrusion["device"]["name"], "Viewtron Fence North");
}

#[test]
fn lpr_state_and_jpegs_are_retained_for_a_late_subscriber() {
    let broker = Broker::start();
    let bridge = Bridge::start(&mqtt_config(&broker, "", ""));
    bridge.wait_health(200);
    bridge.post(&fixture("v1-lpr-vehice.xml"));
    bridge.post(&fixture("v1-intrusion-pea-perimeter.xml"));
    // Published and acknowledged: 4 + 3 (LPR) + 1 + 3 (intrusion) + online.
    bridge.wait_metric("viewtron_bridge_mqtt_published_total", |n| n >= 12);

    // A subscriber that arrives later (Home Assistant restarting) gets the
    // last plate and its pictures, but no stale intrusion.
    let mut late = Subscriber::start(&broker, "viewtron/#");
    let got = late.drain(Duration::from_millis(500));
    let find = |t: &str| got.iter().find(|m| m.topic == t).cloned();
    let state = find("viewtron/harbour_gate_lpr_127_0_0_1/lpr").expect("retained LPR state");
    assert!(state.retain);
    let json = state.json();
    assert_eq!(json["plate_number"], "HX72 LMP");
    assert_eq!(json["plate_status"], "blackList");
    assert_eq!(json["plate_access"], "denied");
    assert_eq!(
        json["timestamp"], "2026-01-05 11:25:45.678901",
        "camera time, TZ=UTC"
    );

    let event = match viewtron::parse(fixture("v1-lpr-vehice.xml")).unwrap() {
        viewtron::Post::Event(e) => e,
        other => panic!("{other:?}"),
    };
    for (topic, want) in [
        (
            "viewtron/harbour_gate_lpr_127_0_0_1/overview_image",
            event.source_image_bytes(),
        ),
        (
            "viewtron/harbour_gate_lpr_127_0_0_1/target_image",
            event.target_image_bytes(),
        ),
    ] {
        let image = find(topic).unwrap_or_else(|| panic!("retained {topic}"));
        assert!(image.retain);
        assert_eq!(
            image.payload,
            want.unwrap().unwrap(),
            "{topic}: the decoded JPEG"
        );
        assert_eq!(&image.payload[..2], [0xFF, 0xD8]);
    }
    assert!(
        find("viewtron/fence_north_127_0_0_1/intrusion").is_none(),
        "intrusion state is not retained"
    );
}

#[test]
fn availability_is_online_and_the_last_will_says_offline_when_killed() {
    let broker = Broker::start();
    let config = mqtt_config(&broker, "  client_id: bridge-under-test\n", "");
    let topic = "viewtron/bridge/bridge-under-test/availability";
    let mut sub = Subscriber::start(&broker, topic);
    let mut bridge = Bridge::start(&config);
    assert_eq!(sub.expect(topic).text(), "online");
    bridge.kill_hard();
    assert_eq!(sub.expect(topic).text(), "offline");
    // Retained: Home Assistant starting later sees it too.
    let mut late = Subscriber::start(&broker, topic);
    let msg = late.expect(topic);
    assert!(msg.retain);
    assert_eq!(msg.text(), "offline");

    // And a restart says online again.
    let _bridge = Bridge::start(&config);
    assert_eq!(sub.expect(topic).text(), "online");
}

#[test]
fn sigterm_delivers_and_says_offline_then_exits_0() {
    let broker = Broker::start();
    let config = mqtt_config(&broker, "  client_id: polite\n", "");
    let mut sub = Subscriber::start(&broker, "viewtron/#");
    let mut bridge = Bridge::start(&config);
    sub.expect("viewtron/bridge/polite/availability");
    bridge.post(&lpr_post("Gate", "LAST 1"));
    let status = bridge.terminate();
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        bridge.log_text()
    );
    sub.expect("viewtron/gate_127_0_0_1/lpr");
    let offline = sub.expect("viewtron/bridge/polite/availability");
    assert_eq!(offline.text(), "offline");
}

#[test]
fn home_assistant_birth_republishes_every_discovery_config() {
    let broker = Broker::start();
    let mut sub = Subscriber::start(&broker, "homeassistant/#");
    let bridge = Bridge::start(&mqtt_config(&broker, "", ""));
    bridge.wait_health(200);
    bridge.post(&fixture("v1-lpr-vehice.xml"));
    bridge.post(&fixture("v1-face-vfd.xml"));
    let configs = |msgs: &[Msg]| {
        let mut t: Vec<String> = msgs
            .iter()
            .filter(|m| m.topic.ends_with("/config"))
            .map(|m| m.topic.clone())
            .collect();
        t.sort();
        t
    };
    // The vendor's four LPR entities and one face entity, and ours: an
    // event entity per camera and category, connectivity and last seen per
    // camera (the two events may be handled in either order).
    while configs(&sub.seen).len() < 11 {
        sub.expect_where("a discovery config", |m| m.topic.ends_with("/config"));
    }
    let first = configs(&sub.seen);
    assert_eq!(first.len(), 11, "{first:?}");

    // Home Assistant restarted with an empty registry: it announces itself.
    sub.publish("homeassistant/status", "online", false);
    let mut again = Vec::new();
    while configs(&again).len() < first.len() {
        again.push(sub.expect_where("a republished config", |m| m.topic.ends_with("/config")));
    }
    assert_eq!(configs(&again), first);
    // Anything else on the status topic changes nothing.
    sub.publish("homeassistant/status", "offline", false);
    assert!(sub
        .drain(Duration::from_millis(500))
        .iter()
        .all(|m| !m.topic.ends_with("/config")));
}

#[test]
fn two_bridges_share_one_broker_without_knocking_each_other_off() {
    let broker = Broker::start();
    let mut sub = Subscriber::start(&broker, "viewtron/#");
    let a = Bridge::start(&mqtt_config(&broker, "", ""));
    let b = Bridge::start(&mqtt_config(&broker, "", ""));
    a.wait_health(200);
    b.wait_health(200);
    for i in 0..10 {
        a.post(&lpr_post("North Gate", &format!("A{i}")));
        b.post(&lpr_post("South Gate", &format!("B{i}")));
    }
    // Every plate of both bridges arrives (in whatever order the broker
    // hands them on: waiting for the last one posted to come last was a
    // race, not the claim).
    let expected = |gate: char| -> std::collections::BTreeSet<String> {
        (0..10).map(|i| format!("{gate}{i}")).collect()
    };
    let (mut north, mut south) = (
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
    );
    while north != expected('A') || south != expected('B') {
        let m = sub.expect_where("a plate", |m| m.topic.ends_with("/lpr"));
        let plate = m.json()["plate_number"].as_str().unwrap().to_owned();
        if m.topic == "viewtron/north_gate_127_0_0_1/lpr" {
            north.insert(plate);
        } else {
            south.insert(plate);
        }
    }
    // Each connected once: a shared client id would have made the broker
    // drop one for the other, over and over.
    assert_eq!(a.metric("viewtron_bridge_mqtt_connects_total"), 1);
    assert_eq!(b.metric("viewtron_bridge_mqtt_connects_total"), 1);
    let online: Vec<_> = sub
        .seen
        .iter()
        .filter(|m| m.topic.ends_with("/availability"))
        .map(|m| m.topic.clone())
        .collect();
    assert!(
        online.len() >= 2 && online[0] != online[1],
        "distinct availability topics: {online:?}"
    );
    a.wait_health(200);
    b.wait_health(200);
}

#[test]
fn metrics_and_health_follow_the_broker() {
    let mut broker = Broker::start();
    let bridge = Bridge::start(&mqtt_config(&broker, "", ""));
    bridge.wait_health(200);
    bridge.post(&fixture("v1-lpr-vehice.xml"));
    bridge.wait_metric("viewtron_bridge_events_total{category=\"lpr\"}", |n| n == 1);
    assert_eq!(
        bridge.metric("viewtron_events_total{category=\"lpr\"}"),
        1,
        "the library's counters too"
    );
    assert_eq!(bridge.metric("viewtron_bridge_mqtt_connected"), 1);
    broker.stop();
    bridge.wait_health(503);
    assert_eq!(bridge.metric("viewtron_bridge_mqtt_connected"), 0);
    broker.restart();
    bridge.wait_health(200);
    assert_eq!(bridge.metric("viewtron_bridge_mqtt_connects_total"), 2);
}

/// Home Assistant subscribes to a new entity's state topic only once it has
/// processed the entity's discovery config. A subscriber doing exactly that
/// must still receive the first event of every not-retained category (the
/// vendor's bridge publishes the state right behind the config, and Home
/// Assistant never shows the first intrusion, face or count). The cameras
/// are answered at once all the same.
#[test]
fn a_subscriber_that_subscribes_after_discovery_still_gets_the_first_state() {
    let broker = Broker::start();
    let bridge = Bridge::start(&mqtt_config(&broker, "", ""));
    bridge.wait_health(200);
    let mut discovery = Subscriber::start(&broker, "homeassistant/+/+/+/config");
    for (fixture_name, component, state_topic) in [
        (
            "v1-intrusion-pea-perimeter.xml",
            "binary_sensor",
            "viewtron/fence_north_127_0_0_1/intrusion",
        ),
        (
            "v1-face-vfd.xml",
            "binary_sensor",
            "viewtron/staff_entrance_127_0_0_1/face",
        ),
        (
            "v1-counting-passlinecount.xml",
            "sensor",
            "viewtron/turnstile_hall_127_0_0_1/counting",
        ),
    ] {
        let took = bridge.post(&fixture(fixture_name));
        assert!(took < ANSWER_BOUND, "the camera waited {took:?}");
        // As Home Assistant: see the config, then subscribe to its state topic.
        discovery.expect_where("the discovery config", |m| {
            m.topic.starts_with(&format!("homeassistant/{component}/"))
                && m.json()["state_topic"] == state_topic
        });
        let mut entity = Subscriber::start(&broker, state_topic);
        let first = entity.expect(state_topic);
        assert!(
            !first.retain,
            "{state_topic} is not retained, as the vendor's"
        );
        assert!(first.json()["event_type"].is_string());
    }
}
