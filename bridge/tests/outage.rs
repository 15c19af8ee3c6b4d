//! Broker outages: what a camera and a Home Assistant user would check.
//! Cameras are answered promptly while the broker is away; everything up to
//! the queue's capacity reaches the broker after it returns (each camera
//! posts under its own name, so its state is its own retained topic and the
//! broker's store shows exactly what arrived); beyond the capacity messages
//! are dropped and counted.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::*;

/// Retained `viewtron/<id>/lpr` plates on the broker, by camera id.
fn retained_plates(broker: &Broker) -> BTreeSet<(String, String)> {
    let mut sub = Subscriber::start(broker, "viewtron/+/lpr");
    sub.drain(Duration::from_millis(500))
        .into_iter()
        .filter(|m| m.retain)
        .map(|m| {
            (
                m.topic.clone(),
                m.json()["plate_number"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
fn broker_restart_mid_stream_loses_nothing_and_cameras_never_wait() {
    let Some(mut broker) = Broker::start() else {
        return;
    };
    let bridge = Bridge::start(&mqtt_config(&broker, "", ""));
    bridge.wait_health(200);
    let port = bridge.port;
    // A camera fleet posting without pause (each post with two pictures:
    // three messages) while the broker is stopped and started again.
    let (tx, rx) = std::sync::mpsc::channel();
    let fleet = std::thread::spawn(move || {
        let mut slowest = Duration::ZERO;
        for i in 0..150 {
            slowest = slowest.max(post(port, &lpr_post(&format!("Cam {i}"), &format!("P{i}"))));
            let _ = tx.send(i);
        }
        slowest
    });
    let posted = |n: usize| {
        while rx.recv_timeout(WAIT).expect("the fleet stalled") + 1 < n {}
    };
    posted(20);
    broker.stop(); // mid-stream: some publishes are in flight
    posted(60);
    bridge.wait_health(503);
    posted(100);
    broker.restart();
    let slowest = fleet.join().unwrap();
    assert!(
        slowest < ANSWER_BOUND,
        "a camera waited {slowest:?} during the outage"
    );
    bridge.wait_health(200);
    bridge.wait_metric("viewtron_bridge_events_total{category=\"lpr\"}", |n| {
        n == 150
    });
    bridge.wait_metric("viewtron_bridge_mqtt_queued", |n| n == 0);
    let want: BTreeSet<_> = (0..150)
        .map(|i| (format!("viewtron/cam_{i}_127_0_0_1/lpr"), format!("P{i}")))
        .collect();
    let got = retained_plates(&broker);
    let missing: Vec<_> = want.difference(&got).collect();
    assert!(missing.is_empty(), "lost across the outage: {missing:?}");
    assert_eq!(bridge.metric("viewtron_bridge_mqtt_dropped_total"), 0);
}

#[test]
fn beyond_the_queue_capacity_messages_are_dropped_and_counted() {
    let Some(mut broker) = Broker::start() else {
        return;
    };
    broker.stop();
    // One camera: 4 discovery configs, then one state per plate; one
    // worker, so posts are queued in the order they were sent.
    let config = mqtt_config(&broker, "  queue_capacity: 10\n", "")
        .replace("server:\n", "server:\n  workers: 1\n");
    let bridge = Bridge::start(&config);
    for i in 1..=15 {
        assert!(bridge.post(&plate_post("Gate", &format!("Q{i}"))) < ANSWER_BOUND);
    }
    // 4 + 15 = 19 messages, 10 fit: the discovery configs and Q1..Q6.
    // (Cameras are answered before their post is delivered: wait for it.)
    bridge.wait_metric("viewtron_bridge_events_total{category=\"lpr\"}", |n| {
        n == 15
    });
    assert_eq!(bridge.metric("viewtron_bridge_mqtt_dropped_total"), 9);
    assert_eq!(bridge.metric("viewtron_bridge_mqtt_queued"), 10);
    broker.restart();
    bridge.wait_health(200);
    bridge.wait_metric("viewtron_bridge_mqtt_queued", |n| n == 0);
    let got = retained_plates(&broker);
    assert_eq!(
        got.into_iter().collect::<Vec<_>>(),
        [("viewtron/gate_127_0_0_1/lpr".to_owned(), "Q6".to_owned())]
    );
    let log = bridge.log_text();
    assert!(log.contains("MQTT queue full"), "drops are logged:\n{log}");
}
