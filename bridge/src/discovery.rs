//! Home Assistant MQTT discovery configs: the vendor's entities, unchanged
//! (topics, `unique_id`s, names, templates, icons, device block,
//! `expire_after`), plus an availability block on each.
//!
//! The entity ids Home Assistant generates come from the device name and the
//! entity name, and its entity registry keys on `unique_id`: change any of
//! them and a user's automations and dashboards break. So they are the
//! vendor's, byte for byte. What we add is `availability`: every entity
//! points at this bridge's availability topic, so when the bridge dies the
//! broker's last will turns them all `unavailable` instead of leaving stale
//! plates on the dashboard.

use std::net::IpAddr;

use serde_json::{json, Value};

use crate::payload::{display_name, Object};

/// One message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

/// Naming settings the configs depend on.
#[derive(Debug, Clone)]
pub struct Naming {
    pub discovery_prefix: String,
    pub topic_prefix: String,
    pub expire_after: u32,
    /// This bridge's availability topic.
    pub availability_topic: String,
}

#[cfg(test)]
impl Naming {
    /// The defaults, and bridge `b1`'s availability topic: for the tests of
    /// every module that builds configs.
    pub fn for_tests() -> Naming {
        Naming {
            discovery_prefix: "homeassistant".into(),
            topic_prefix: "viewtron".into(),
            expire_after: 30,
            availability_topic: "viewtron/bridge/b1/availability".into(),
        }
    }
}

/// The discovery configs for one camera and category, in the vendor's order
/// (none for `metadata`, as the vendor).
pub fn configs(
    naming: &Naming,
    camera_id: &str,
    camera_name: Option<&str>,
    camera_ip: IpAddr,
    category: &str,
) -> Vec<Message> {
    let base = format!("{}/{camera_id}", naming.topic_prefix);
    let device = device(camera_id, camera_name, camera_ip);
    // Built as maps in the vendor's key order, availability appended.
    let entity = |pairs: Vec<(&str, Value)>| entity_object(naming, &device, pairs);
    let state = |cat: &str| format!("{base}/{cat}");
    let attributes = "{{ value_json | tojson }}";
    let expire = naming.expire_after;
    let configs: Vec<(&str, &str, Object)> = match category {
        "lpr" => vec![
            (
                "sensor",
                "plate",
                entity(vec![
                    ("name", "License Plate".into()),
                    ("unique_id", format!("viewtron_{camera_id}_plate").into()),
                    ("state_topic", state("lpr").into()),
                    ("value_template", "{{ value_json.plate_number }}".into()),
                    ("json_attributes_topic", state("lpr").into()),
                    ("json_attributes_template", attributes.into()),
                    ("icon", "mdi:car".into()),
                ]),
            ),
            (
                "sensor",
                "plate_authorized",
                entity(vec![
                    ("name", "Status".into()),
                    (
                        "unique_id",
                        format!("viewtron_{camera_id}_plate_authorized").into(),
                    ),
                    ("state_topic", state("lpr").into()),
                    ("value_template", "{{ value_json.plate_status }}".into()),
                    ("json_attributes_topic", state("lpr").into()),
                    ("json_attributes_template", attributes.into()),
                    ("icon", "mdi:shield-car".into()),
                ]),
            ),
            (
                "image",
                "overview",
                entity(vec![
                    ("name", "Overview".into()),
                    ("unique_id", format!("viewtron_{camera_id}_overview").into()),
                    ("image_topic", format!("{base}/overview_image").into()),
                    ("content_type", "image/jpeg".into()),
                ]),
            ),
            (
                "image",
                "target",
                entity(vec![
                    ("name", "Plate".into()),
                    ("unique_id", format!("viewtron_{camera_id}_target").into()),
                    ("image_topic", format!("{base}/target_image").into()),
                    ("content_type", "image/jpeg".into()),
                ]),
            ),
        ],
        "intrusion" => vec![(
            "binary_sensor",
            "intrusion",
            entity(vec![
                ("name", "Intrusion".into()),
                (
                    "unique_id",
                    format!("viewtron_{camera_id}_intrusion").into(),
                ),
                ("state_topic", state("intrusion").into()),
                ("value_template", "ON".into()),
                ("json_attributes_topic", state("intrusion").into()),
                ("json_attributes_template", attributes.into()),
                ("device_class", "motion".into()),
                ("expire_after", expire.into()),
            ]),
        )],
        "face" => vec![(
            "binary_sensor",
            "face",
            entity(vec![
                ("name", "Face Detected".into()),
                ("unique_id", format!("viewtron_{camera_id}_face").into()),
                ("state_topic", state("face").into()),
                ("value_template", "ON".into()),
                ("json_attributes_topic", state("face").into()),
                ("json_attributes_template", attributes.into()),
                ("device_class", "motion".into()),
                ("icon", "mdi:face-recognition".into()),
                ("expire_after", expire.into()),
            ]),
        )],
        "counting" => vec![(
            "sensor",
            "counting",
            entity(vec![
                ("name", "Object Count".into()),
                ("unique_id", format!("viewtron_{camera_id}_counting").into()),
                ("state_topic", state("counting").into()),
                (
                    "value_template",
                    "{{ value_json.event_description }}".into(),
                ),
                ("json_attributes_topic", state("counting").into()),
                ("json_attributes_template", attributes.into()),
                ("icon", "mdi:counter".into()),
            ]),
        )],
        _ => Vec::new(),
    };
    configs
        .into_iter()
        .map(|(component, object, config)| Message {
            topic: config_topic(naming, component, camera_id, object),
            payload: config.to_bytes(),
            retain: true,
        })
        .collect()
}

/// The vendor's device block of a camera: every entity of a camera id names
/// the same device, so Home Assistant shows them together (ours included).
pub fn device(camera_id: &str, camera_name: Option<&str>, camera_ip: IpAddr) -> Value {
    json!({
        "identifiers": [format!("viewtron_{camera_id}")],
        "name": display_name(camera_name, camera_ip),
        "manufacturer": "Viewtron",
        "model": "IP Camera",
        "configuration_url": configuration_url(camera_ip),
    })
}

/// An entity's config: `pairs` in order, then the device block and this
/// bridge's availability.
fn entity_object(naming: &Naming, device: &Value, pairs: Vec<(&str, Value)>) -> Object {
    let mut map = Object::default();
    for (k, v) in pairs {
        map.insert(k, v);
    }
    map.insert("device", device.clone());
    map.insert("availability_topic", naming.availability_topic.as_str());
    map.insert("payload_available", "online");
    map.insert("payload_not_available", "offline");
    map
}

/// One of our own entities (not the vendor's) on a camera's device: its
/// retained discovery config at `<prefix>/<component>/<camera id>/<object>/config`.
pub fn our_entity(
    naming: &Naming,
    device: &Value,
    component: &str,
    camera_id: &str,
    object: &str,
    pairs: Vec<(&str, Value)>,
) -> Message {
    Message {
        topic: config_topic(naming, component, camera_id, object),
        payload: entity_object(naming, device, pairs).to_bytes(),
        retain: true,
    }
}

/// `<discovery prefix>/<component>/<camera id>/<object>/config`.
pub fn config_topic(naming: &Naming, component: &str, camera_id: &str, object: &str) -> String {
    format!(
        "{}/{component}/{camera_id}/{object}/config",
        naming.discovery_prefix
    )
}

/// `http://<ip>`, with brackets for IPv6 (the vendor leaves them out, which
/// is not a URL).
fn configuration_url(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("http://{v4}"),
        IpAddr::V6(v6) => format!("http://[{v6}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lpr_has_the_vendors_four_entities_each_with_availability() {
        let ip: IpAddr = "192.168.1.20".parse().unwrap();
        let msgs = configs(
            &Naming::for_tests(),
            "gate_192_168_1_20",
            Some("Gate"),
            ip,
            "lpr",
        );
        let topics: Vec<_> = msgs.iter().map(|m| m.topic.as_str()).collect();
        assert_eq!(
            topics,
            [
                "homeassistant/sensor/gate_192_168_1_20/plate/config",
                "homeassistant/sensor/gate_192_168_1_20/plate_authorized/config",
                "homeassistant/image/gate_192_168_1_20/overview/config",
                "homeassistant/image/gate_192_168_1_20/target/config",
            ]
        );
        for m in &msgs {
            assert!(m.retain);
            let v: Value = serde_json::from_slice(&m.payload).unwrap();
            assert_eq!(v["availability_topic"], "viewtron/bridge/b1/availability");
            assert_eq!(v["device"]["name"], "Viewtron Gate");
            assert_eq!(v["device"]["configuration_url"], "http://192.168.1.20");
        }
        assert!(configs(&Naming::for_tests(), "x", None, ip, "metadata").is_empty());
    }

    #[test]
    fn binary_sensors_expire() {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for cat in ["intrusion", "face"] {
            let msgs = configs(&Naming::for_tests(), "10_0_0_1", None, ip, cat);
            let v: Value = serde_json::from_slice(&msgs[0].payload).unwrap();
            assert_eq!(v["expire_after"], 30);
            assert_eq!(v["device"]["name"], "Viewtron 10.0.0.1");
        }
    }
}
