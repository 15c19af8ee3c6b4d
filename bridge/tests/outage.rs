//! Broker outages: what a camera and a Home Assistant user would check.
//! Cameras are answered promptly while the broker is away; everything up to
//! the queue's capacity reaches the broker after it returns (each camera
//! posts under its own name, so its state is its own retained topic and the
//! broker's store shows exactly what arrived); beyond the capacity messages
//! are dropped and counted. Memory stays bounded by bytes whatever the
//! images, and images are what goes first.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

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
    let mut broker = Broker::start();
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
    let mut broker = Broker::start();
    broker.stop();
    // One camera: 4 discovery configs, then one state per plate; one
    // worker, so posts are queued in the order they were sent. (Our event
    // and connectivity entities off: the count is of the vendor's messages.)
    let extra = "  queue_capacity: 10\n  event_entities: false\n  camera_timeout: 0\n";
    let config = mqtt_config(&broker, extra, "").replace("server:\n", "server:\n  workers: 1\n");
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

/// An LPR post whose overview picture (the first item, as IP cameras send
/// it) is `kib` KiB of JPEG bytes.
fn big_image_post(device: &str, plate: &str, kib: usize) -> Vec<u8> {
    let text = String::from_utf8(lpr_post(device, plate)).unwrap();
    // "QUJD" is base64 for "ABC": 1 KiB of picture per 1,366 characters.
    let picture = "QUJD".repeat(kib * 1024 / 3);
    let data = "<targetBase64Data type=\"string\"><![CDATA[";
    let (head, rest) = text.split_once(data).unwrap();
    let (_, tail) = rest.split_once("]]>").unwrap();
    let head = head.replace(
        "<targetBase64Length type=\"uint32\">220<",
        &format!("<targetBase64Length type=\"uint32\">{}<", picture.len()),
    );
    format!("{head}{data}{picture}]]>{tail}").into_bytes()
}

/// The bridge process's peak resident memory (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib * 1024
}

/// The attacker: a camera posting 100 large pictures (~30 MiB of JPEG bytes)
/// while the broker is away, against a 4 MiB bound. The queue never holds
/// more than the bound, the process stays small, the excess is dropped and
/// counted, pictures before states (every plate still arrives), and the
/// drops are logged once, not once per message.
#[test]
fn large_images_during_an_outage_stay_within_the_byte_bound_and_images_go_first() {
    let mut broker = Broker::start();
    broker.stop();
    const BOUND: u64 = 4 << 20;
    let config = mqtt_config(&broker, "  queue_max_mb: 4\n", "")
        .replace("server:\n", "server:\n  workers: 1\n");
    let bridge = Bridge::start(&config);
    let started = Instant::now();
    let posts = 100;
    for i in 1..=posts {
        let took = bridge.post(&big_image_post("Gate", &format!("B{i}"), 300));
        assert!(took < ANSWER_BOUND, "a camera waited {took:?}");
    }
    bridge.wait_metric("viewtron_bridge_events_total{category=\"lpr\"}", |n| {
        n == posts
    });
    let peak = bridge.metric("viewtron_bridge_mqtt_queued_bytes_peak");
    let held = bridge.metric("viewtron_bridge_mqtt_queued_bytes");
    assert!(peak <= BOUND, "held {peak} bytes at most, bound {BOUND}");
    assert!(held > BOUND / 2, "the queue was filled: {held} bytes");
    let dropped = bridge.metric("viewtron_bridge_mqtt_dropped_total");
    let images = bridge.metric("viewtron_bridge_mqtt_images_dropped_total");
    assert!(images > posts / 2, "most pictures dropped: {images}");
    assert_eq!(dropped, images, "only pictures were dropped, no state");
    // 30 MiB went through; without a byte bound the queue alone held it.
    let rss = peak_rss(bridge.child.id());
    assert!(rss < 40 << 20, "peak RSS {} MiB", rss >> 20);
    let warnings = bridge.log_text().matches("MQTT queue full").count();
    let allowed = 1 + started.elapsed().as_secs() as usize / 10;
    assert!(
        (1..=allowed).contains(&warnings),
        "{warnings} warnings for {dropped} drops"
    );

    broker.restart();
    bridge.wait_health(200);
    bridge.wait_metric("viewtron_bridge_mqtt_queued", |n| n == 0);
    assert_eq!(bridge.metric("viewtron_bridge_mqtt_queued_bytes"), 0);
    let got = retained_plates(&broker);
    assert_eq!(
        got.into_iter().collect::<Vec<_>>(),
        [(
            "viewtron/gate_127_0_0_1/lpr".to_owned(),
            format!("B{posts}")
        )],
        "the last plate arrived although its pictures did not fit"
    );
}
