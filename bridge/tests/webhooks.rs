//! Home Assistant webhooks against a local HTTP receiver: the vendor's URL
//! and JSON, retries after a failure, and a receiver that hangs while the
//! cameras keep being answered.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

fn config(receiver: &WebhookReceiver, extra: &str) -> String {
    format!(
        "bridge_port: {{port}}\nsave_images: false\nserver:\n  bind: 127.0.0.1\nhome_assistant:\n  \
         url: http://127.0.0.1:{}/\n  webhooks:\n    lpr: wh-lpr\n    all: wh-all\n{extra}",
        receiver.port
    )
}

fn next(receiver: &WebhookReceiver) -> Hook {
    receiver.rx.recv_timeout(WAIT).expect("a webhook")
}

#[test]
fn webhooks_carry_the_payload_per_category_or_all() {
    let receiver = webhook_receiver(Mode::Ok);
    let bridge = Bridge::start(&config(&receiver, ""));
    bridge.post(&fixture("v1-lpr-vehice.xml"));
    let hook = next(&receiver);
    assert_eq!(
        hook.path, "/api/webhook/wh-lpr",
        "trailing / of the url stripped, as the vendor"
    );
    assert_eq!(hook.content_type, "application/json");
    let json: Value = serde_json::from_slice(&hook.body).unwrap();
    assert_eq!(json["plate_number"], "HX72 LMP");
    assert_eq!(json["camera_name"], "Harbour Gate LPR");
    assert_eq!(json["event_type"], "VEHICE");

    bridge.post(&fixture("v2-intrusion-region-intrusion.xml"));
    let hook = next(&receiver);
    assert_eq!(hook.path, "/api/webhook/wh-all");
    let json: Value = serde_json::from_slice(&hook.body).unwrap();
    assert_eq!(json["event_type"], "regionIntrusion");
    assert_eq!(json["channel_id"], "4");
    // Tracking posts are never forwarded.
    bridge.post(&fixture("v1-traject.xml"));
    bridge.post(&fixture("v1-face-vfd.xml"));
    let hook = next(&receiver);
    let json: Value = serde_json::from_slice(&hook.body).unwrap();
    assert_eq!(
        json["event_type"], "VFD",
        "the face event, no traject in between"
    );
    bridge.wait_metric("viewtron_bridge_webhooks_total{result=\"sent\"}", |n| {
        n == 3
    });
}

#[test]
fn a_failed_webhook_is_retried() {
    let receiver = webhook_receiver(Mode::FailFirst(2));
    let bridge = Bridge::start(&config(&receiver, "  webhook_retries: 3\n"));
    bridge.post(&fixture("v1-lpr-vehice.xml"));
    let hook = next(&receiver);
    assert_eq!(hook.path, "/api/webhook/wh-lpr");
    bridge.wait_metric("viewtron_bridge_webhooks_total{result=\"sent\"}", |n| {
        n == 1
    });
    assert_eq!(bridge.metric("viewtron_bridge_webhook_retries_total"), 2);
    assert_eq!(
        bridge.metric("viewtron_bridge_webhooks_total{result=\"failed\"}"),
        0
    );
}

#[test]
fn a_hanging_home_assistant_never_delays_the_cameras() {
    let receiver = webhook_receiver(Mode::Hang);
    let extra = "  webhook_timeout: 1\n  webhook_retries: 0\n  webhook_queue: 5\n";
    let bridge = Bridge::start(&config(&receiver, extra));
    let start = Instant::now();
    let mut slowest = Duration::ZERO;
    for i in 0..40 {
        slowest = slowest.max(bridge.post(&plate_post("Gate", &format!("H{i}"))));
    }
    assert!(
        slowest < ANSWER_BOUND,
        "a camera waited {slowest:?} behind a hung webhook"
    );
    // The sender is stuck on the first request for its 1 s timeout: the
    // 40 posts took far less than that, so they cannot have waited for it.
    assert!(start.elapsed() < Duration::from_secs(5));
    // The queue held 5, the sender 1; the rest were dropped and counted,
    // and what it tried timed out and was counted as failed.
    bridge.wait_metric("viewtron_bridge_webhooks_total{result=\"dropped\"}", |n| {
        n >= 30
    });
    bridge.wait_metric("viewtron_bridge_webhooks_total{result=\"failed\"}", |n| {
        n >= 1
    });
    assert!(bridge.log_text().contains("webhook queue full"));
}
