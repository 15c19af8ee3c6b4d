//! The two entities of a camera's connection, on the camera's device (the
//! vendor's device block, so they sit with its plate, intrusion... entities):
//!
//! - `binary_sensor <id>/connectivity`, "Connectivity" (device class
//!   `connectivity`: Connected / Disconnected), and
//! - `sensor <id>/last_seen`, "Last Seen" (device class `timestamp`),
//!
//! both diagnostic, both read from one retained JSON message on
//! `<topic_prefix>/<id>/connection`:
//! `{"status": "online"|"offline", "last_seen": "2026-12-07T10:00:00+00:00", "camera_ip": "…"}`.
//! Retained, so Home Assistant has it again after a restart; when the bridge
//! is gone, the availability topic makes them `unavailable`.

use std::net::IpAddr;
use std::time::SystemTime;

use serde_json::{json, Value};

use super::store::Device;
use crate::discovery::{self, Message, Naming};

/// The key of these configs in the MQTT discovery memo (next to the
/// vendor's categories, which they cannot clash with).
pub const MEMO_KEY: &str = "connection";

/// `<topic_prefix>/<camera id>/connection`.
pub fn topic(naming: &Naming, camera_id: &str) -> String {
    format!("{}/{camera_id}/connection", naming.topic_prefix)
}

/// The discovery configs of a device's connectivity and last-seen entities.
pub fn configs(naming: &Naming, device: &Device, ip: IpAddr) -> Vec<Message> {
    let id = device.id.as_str();
    let block = discovery::device(id, device.name.as_deref(), ip);
    let state = topic(naming, id);
    vec![
        discovery::our_entity(
            naming,
            &block,
            "binary_sensor",
            id,
            "connectivity",
            vec![
                ("name", "Connectivity".into()),
                ("unique_id", format!("viewtron_{id}_connectivity").into()),
                ("state_topic", state.clone().into()),
                ("value_template", "{{ value_json.status }}".into()),
                ("payload_on", "online".into()),
                ("payload_off", "offline".into()),
                ("json_attributes_topic", state.clone().into()),
                ("device_class", "connectivity".into()),
                ("entity_category", "diagnostic".into()),
            ],
        ),
        discovery::our_entity(
            naming,
            &block,
            "sensor",
            id,
            "last_seen",
            vec![
                ("name", "Last Seen".into()),
                ("unique_id", format!("viewtron_{id}_last_seen").into()),
                ("state_topic", state.into()),
                ("value_template", "{{ value_json.last_seen }}".into()),
                ("device_class", "timestamp".into()),
                ("entity_category", "diagnostic".into()),
            ],
        ),
    ]
}

/// The retained state message of one device.
pub fn status(
    naming: &Naming,
    camera_id: &str,
    ip: IpAddr,
    online: bool,
    seen: SystemTime,
) -> Message {
    let payload: Value = json!({
        "status": if online { "online" } else { "offline" },
        "last_seen": iso8601(seen),
        "camera_ip": ip.to_string(),
    });
    Message {
        topic: topic(naming, camera_id),
        payload: serde_json::to_vec(&payload).unwrap_or_default(),
        retain: true,
    }
}

/// Empty retained messages that delete a device's two entities and their
/// retained state (Home Assistant removes an entity whose config is empty).
pub fn removal(naming: &Naming, camera_id: &str) -> Vec<Message> {
    [
        discovery::config_topic(naming, "binary_sensor", camera_id, "connectivity"),
        discovery::config_topic(naming, "sensor", camera_id, "last_seen"),
        topic(naming, camera_id),
    ]
    .into_iter()
    .map(|topic| Message {
        topic,
        payload: Vec::new(),
        retain: true,
    })
    .collect()
}

/// `2026-12-07T10:00:00+00:00`: what a `timestamp` sensor takes (UTC, to
/// the second).
pub fn iso8601(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn configs_status_and_removal() {
        let ip: IpAddr = "192.168.1.20".parse().unwrap();
        let device = Device {
            id: "gate_192_168_1_20".into(),
            name: Some("Gate".into()),
            provisional: false,
        };
        let msgs = configs(&Naming::for_tests(), &device, ip);
        let topics: Vec<_> = msgs.iter().map(|m| m.topic.as_str()).collect();
        assert_eq!(
            topics,
            [
                "homeassistant/binary_sensor/gate_192_168_1_20/connectivity/config",
                "homeassistant/sensor/gate_192_168_1_20/last_seen/config",
            ]
        );
        let vendor = discovery::configs(&Naming::for_tests(), &device.id, Some("Gate"), ip, "lpr");
        let vendor: Value = serde_json::from_slice(&vendor[0].payload).unwrap();
        for m in &msgs {
            let v: Value = serde_json::from_slice(&m.payload).unwrap();
            assert_eq!(v["device"], vendor["device"]);
            assert_eq!(v["state_topic"], "viewtron/gate_192_168_1_20/connection");
        }
        let seen = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let m = status(&Naming::for_tests(), &device.id, ip, true, seen);
        assert!(m.retain);
        let v: Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(v["status"], "online");
        assert_eq!(v["last_seen"], "2027-01-15T08:00:00+00:00");
        assert_eq!(v["camera_ip"], "192.168.1.20");
        let gone = removal(&Naming::for_tests(), &device.id);
        assert_eq!(gone.len(), 3);
        assert!(gone.iter().all(|m| m.retain && m.payload.is_empty()));
    }
}
