//! `/metrics`: the library server's counters (`Stats::prometheus`) followed
//! by the bridge's own, in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use viewtron::Stats;

use crate::bridge::Bridge;

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// The whole `/metrics` text.
pub fn render(stats: &Stats, bridge: &Bridge) -> String {
    let mut out = stats.prometheus();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP viewtron_bridge_{name} {help}");
        let _ = writeln!(out, "# TYPE viewtron_bridge_{name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "viewtron_bridge_{name}{labels} {value}");
        }
    };
    let one = |v: u64| [(String::new(), v)];
    let c = &bridge.counters;
    let forwarded: Vec<_> = ["lpr", "face", "intrusion", "counting", "metadata"]
        .iter()
        .map(|cat| {
            let n = c
                .forwarded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(cat)
                .copied()
                .unwrap_or(0);
            (format!("{{category=\"{cat}\"}}"), n)
        })
        .collect();
    metric(
        "events_total",
        "counter",
        "Events forwarded, by category.",
        &forwarded,
    );
    metric(
        "traject_skipped_total",
        "counter",
        "Tracking posts not forwarded.",
        &one(get(&c.traject_skipped)),
    );
    metric(
        "repeats_skipped_total",
        "counter",
        "Repeat plates skipped (dedup_seconds).",
        &one(get(&c.repeats_skipped)),
    );
    metric(
        "bad_images_total",
        "counter",
        "Images that were not valid base64.",
        &one(get(&c.bad_images)),
    );
    if let Some(mqtt) = &bridge.mqtt {
        let m = mqtt.counters();
        metric(
            "mqtt_connected",
            "gauge",
            "1 while the broker connection is up.",
            &one(u64::from(mqtt.connected())),
        );
        metric(
            "mqtt_connects_total",
            "counter",
            "Broker connections made.",
            &one(get(&m.connects)),
        );
        metric(
            "mqtt_published_total",
            "counter",
            "Messages the broker acknowledged.",
            &one(get(&m.published)),
        );
        metric(
            "mqtt_queued",
            "gauge",
            "Messages waiting for the broker.",
            &one(mqtt.queued() as u64),
        );
        metric(
            "mqtt_queued_bytes",
            "gauge",
            "Bytes of the messages held, counted against queue_max_mb.",
            &one(mqtt.queued_bytes() as u64),
        );
        metric(
            "mqtt_queued_bytes_peak",
            "gauge",
            "The most bytes ever held at once.",
            &one(m.peak_bytes.load(Ordering::Relaxed) as u64),
        );
        metric(
            "mqtt_dropped_total",
            "counter",
            "Messages dropped: queue full (images included).",
            &one(get(&m.dropped)),
        );
        metric(
            "mqtt_images_dropped_total",
            "counter",
            "Image messages dropped: they may fill only 3/4 of the queue.",
            &one(get(&m.dropped_images)),
        );
        metric(
            "mqtt_resent_total",
            "counter",
            "Messages sent again after a reconnect.",
            &one(get(&m.resent)),
        );
    }
    if let Some(w) = &bridge.webhooks {
        let k = w.counters();
        let results = [
            ("sent", get(&k.sent)),
            ("failed", get(&k.failed)),
            ("dropped", get(&k.dropped)),
        ]
        .map(|(r, n)| (format!("{{result=\"{r}\"}}"), n));
        metric("webhooks_total", "counter", "Webhooks by result.", &results);
        metric(
            "webhook_retries_total",
            "counter",
            "Webhook attempts repeated.",
            &one(get(&k.retried)),
        );
        metric(
            "webhooks_queued",
            "gauge",
            "Webhooks waiting to be sent.",
            &one(w.queued() as u64),
        );
    }
    if let Some(images) = &bridge.images {
        let k = images.counters();
        let results = [
            ("saved", get(&k.saved)),
            ("failed", get(&k.failed)),
            ("deleted", get(&k.deleted)),
        ]
        .map(|(r, n)| (format!("{{result=\"{r}\"}}"), n));
        metric(
            "images_total",
            "counter",
            "Image files saved, failed and deleted by retention.",
            &results,
        );
    }
    out
}
