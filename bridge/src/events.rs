//! Home Assistant `event` entities, ours, next to the vendor's sensors.
//!
//! Why: the vendor's licence-plate sensor has the plate as its state, so the
//! same car coming back changes nothing and a `state` trigger never fires
//! (issue 20). An MQTT `event` entity fires on every message, whatever it
//! holds, and its `event_type` says what kind of occurrence it was, so an
//! automation can pick allowed, denied or unknown plates, zone entries or
//! line crossings from the trigger alone.
//!
//! One per camera and category (none for metadata, tracking is never
//! forwarded): discovery at `<discovery_prefix>/event/<camera id>/<object>/config`,
//! on the camera's device (the vendor's device block), published with the
//! vendor's configs of that category (`mqtt.event_entities`, on by default).
//! Each occurrence is a not-retained JSON message on
//! `<topic_prefix>/<camera id>/<category>/event` (retained, it would fire
//! again whenever Home Assistant subscribes): `event_type` and the attributes
//! of the state payload that an automation reads (plate, group, access,
//! camera, time, zone action, saved pictures); not the `plates`, `faces` and
//! `targets` lists, which would bloat Home Assistant's history.

use std::net::IpAddr;

use serde_json::Value;
use viewtron::{Category, Event, Region};

use crate::discovery::{self, Message, Naming};
use crate::payload::{Object, State};

/// The entity of one category: discovery object id, name, its event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub object: &'static str,
    pub name: &'static str,
    pub event_types: &'static [&'static str],
}

/// A plate read: the camera's list normalised (`plate_access`), and
/// `no_plate` when the camera saw a vehicle but read no plate.
pub const PLATE: Kind = Kind {
    object: "plate",
    name: "License Plate Event",
    event_types: &["allowed", "denied", "temporary", "unknown", "no_plate"],
};

/// The alarm kind: NVR `regionIntrusion` / `lineCrossing`, IP camera `PEA`
/// by the shape of its rule (an area or a tripwire), `AOIENTRY`, `AOILEAVE`,
/// `LOITER`, `PVD`; `intrusion` for any other (a `PEA` without a rule).
pub const INTRUSION: Kind = Kind {
    object: "intrusion",
    name: "Intrusion Event",
    event_types: &[
        "region_intrusion",
        "line_crossing",
        "entry",
        "exit",
        "loiter",
        "illegal_parking",
        "intrusion",
    ],
};

/// `VFD`, `videoFaceDetect`: detected; `VFD_MATCH`: matched.
pub const FACE: Kind = Kind {
    object: "face",
    name: "Face Event",
    event_types: &["detected", "matched"],
};

/// By line (`PASSLINECOUNT`, `targetCountingByLine`) or by area (`TRAFFIC`,
/// `targetCountingByArea`).
pub const COUNTING: Kind = Kind {
    object: "counting",
    name: "Counting Event",
    event_types: &["line", "area", "count"],
};

/// The event entity of a category, if it has one.
pub fn kind(category: &str) -> Option<Kind> {
    match category {
        "lpr" => Some(PLATE),
        "intrusion" => Some(INTRUSION),
        "face" => Some(FACE),
        "counting" => Some(COUNTING),
        _ => None,
    }
}

/// The event entity's discovery config for a camera and category.
pub fn config(
    naming: &Naming,
    camera_id: &str,
    camera_name: Option<&str>,
    camera_ip: IpAddr,
    category: &str,
) -> Option<Message> {
    let kind = kind(category)?;
    let device = discovery::device(camera_id, camera_name, camera_ip);
    let mut pairs: Vec<(&str, Value)> = vec![
        ("name", kind.name.into()),
        (
            "unique_id",
            format!("viewtron_{camera_id}_{}_event", kind.object).into(),
        ),
        ("state_topic", topic(naming, camera_id, category).into()),
        ("event_types", kind.event_types.into()),
    ];
    pairs.push(match category {
        "intrusion" => ("device_class", "motion".into()),
        "lpr" => ("icon", "mdi:car".into()),
        "face" => ("icon", "mdi:face-recognition".into()),
        _ => ("icon", "mdi:counter".into()),
    });
    Some(discovery::our_entity(
        naming,
        &device,
        "event",
        camera_id,
        kind.object,
        pairs,
    ))
}

/// `<topic_prefix>/<camera id>/<category>/event`.
pub fn topic(naming: &Naming, camera_id: &str, category: &str) -> String {
    format!("{}/{camera_id}/{category}/event", naming.topic_prefix)
}

/// The event type of one event (see the [`Kind`]s); `None` for a category
/// without an event entity.
pub fn event_type(event: &Event, state: &State) -> Option<&'static str> {
    let alarm = event.alarm_type();
    let is = |code: &str| alarm.eq_ignore_ascii_case(code);
    Some(match event.category() {
        Category::Lpr => {
            let plate = state.plate_number().unwrap_or("").trim();
            if plate.is_empty() || plate == "<NO PLATE>" {
                "no_plate"
            } else {
                match state.json["plate_access"].as_str() {
                    Some("allowed") => "allowed",
                    Some("denied") => "denied",
                    Some("temporary") => "temporary",
                    _ => "unknown",
                }
            }
        }
        Category::Intrusion if is("regionIntrusion") => "region_intrusion",
        Category::Intrusion if is("lineCrossing") => "line_crossing",
        Category::Intrusion if is("AOIENTRY") => "entry",
        Category::Intrusion if is("AOILEAVE") => "exit",
        Category::Intrusion if is("LOITER") => "loiter",
        Category::Intrusion if is("PVD") => "illegal_parking",
        Category::Intrusion => {
            let regions = event.targets().iter().filter_map(|t| t.region.as_ref());
            let mut line = false;
            let mut area = false;
            for region in regions {
                match region {
                    Region::Line { .. } => line = true,
                    _ => area = true,
                }
            }
            match (line, area) {
                (true, false) => "line_crossing",
                (false, true) => "region_intrusion",
                _ => "intrusion",
            }
        }
        Category::Face if is("VFD_MATCH") => "matched",
        Category::Face => "detected",
        Category::Counting if is("PASSLINECOUNT") || is("targetCountingByLine") => "line",
        Category::Counting if is("TRAFFIC") || is("targetCountingByArea") => "area",
        Category::Counting => "count",
        _ => return None,
    })
}

/// Keys of the state payload copied into the event's attributes (the
/// vendor's `event_type` becomes `alarm_type`: Home Assistant reserves
/// `event_type` for ours).
const ATTRIBUTES: [&str; 15] = [
    "event_description",
    "camera_name",
    "camera_ip",
    "timestamp",
    "channel_id",
    "plate_number",
    "plate_status",
    "plate_access",
    "vehicle",
    "plate_color",
    "face",
    "zone_action",
    "overview_image",
    "target_image",
    "camera_id",
];

/// The message of one event: on [`topic`], not retained.
pub fn message(naming: &Naming, event: &Event, state: &State) -> Option<Message> {
    let event_type = event_type(event, state)?;
    let mut json = Object::default();
    json.insert("event_type", event_type);
    json.insert("alarm_type", event.alarm_type());
    for key in ATTRIBUTES {
        match (key, state.json.get(key)) {
            ("camera_id", _) => json.insert(key, state.camera_id.as_str()),
            (_, Some(value)) => json.insert(key, value.clone()),
            (_, None) => {}
        }
    }
    let category = event.category().as_str();
    Some(Message {
        topic: topic(naming, &state.camera_id, category),
        payload: json.to_bytes(),
        retain: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use viewtron::{parse, Post};

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 20));

    fn event(xml: &str) -> Event {
        match parse(xml.to_owned().into_bytes()) {
            Ok(Post::Event(e)) => e,
            other => panic!("not an event: {other:?}"),
        }
    }

    fn fixture(name: &str) -> Event {
        let path = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        event(&std::fs::read_to_string(&path).unwrap())
    }

    fn state(e: &Event) -> State {
        let mut s = State::new(e, IP);
        s.add_extras(e);
        s
    }

    fn plate(group: &str, number: &str) -> Event {
        event(&format!(
            "<config version='1.7'><smartType>VEHICE</smartType><deviceName>Gate</deviceName>\
             <listInfo><item><plateNumber>{number}</plateNumber><vehicleListType>{group}</vehicleListType></item></listInfo></config>"
        ))
    }

    #[test]
    fn plates_by_access() {
        for (group, number, want) in [
            ("whiteList", "AB12", "allowed"),
            ("blackList", "AB12", "denied"),
            ("temporaryList", "AB12", "temporary"),
            ("", "AB12", "unknown"),
            ("Residents", "AB12", "unknown"),
            ("whiteList", "", "no_plate"),
        ] {
            let e = plate(group, number);
            assert_eq!(event_type(&e, &state(&e)), Some(want), "{group} {number}");
            assert!(PLATE.event_types.contains(&want));
        }
        let none = event("<config version='1.7'><smartType>VEHICE</smartType></config>");
        assert_eq!(event_type(&none, &state(&none)), Some("no_plate"));
    }

    #[test]
    fn every_fixture_has_a_declared_type() {
        let cases = [
            ("v1-intrusion-pea-perimeter.xml", "region_intrusion"),
            ("v1-intrusion-pea-tripwire.xml", "line_crossing"),
            ("v1-intrusion-aoientry.xml", "entry"),
            ("v1-intrusion-aoileave.xml", "exit"),
            ("v1-intrusion-loiter.xml", "loiter"),
            ("v1-intrusion-pvd.xml", "illegal_parking"),
            ("v2-intrusion-line-crossing.xml", "line_crossing"),
            ("v2-intrusion-region-intrusion.xml", "region_intrusion"),
            ("v1-face-vfd.xml", "detected"),
            ("v1-face-vfd-match.xml", "matched"),
            ("v2-face-video-face-detect.xml", "detected"),
            ("v1-counting-passlinecount.xml", "line"),
            ("v1-counting-traffic.xml", "area"),
            ("v2-counting-target-counting-by-line.xml", "line"),
            ("v2-counting-target-counting-by-area.xml", "area"),
            ("v1-lpr-vehice.xml", "denied"),
            ("v2-lpr-vehicle-without-plate-list.xml", "temporary"),
            ("v1-lpr-no-plate-read.xml", "no_plate"),
        ];
        for (name, want) in cases {
            let e = fixture(name);
            let got = event_type(&e, &state(&e));
            assert_eq!(got, Some(want), "{name}");
            let kind = kind(e.category().as_str()).unwrap();
            assert!(kind.event_types.contains(&want), "{name}");
        }
        let pea = event("<config version='1.7'><smartType>PEA</smartType></config>");
        assert_eq!(event_type(&pea, &state(&pea)), Some("intrusion"));
        let vsd = fixture("v1-metadata-vsd.xml");
        assert_eq!(event_type(&vsd, &state(&vsd)), None);
        assert!(message(&Naming::for_tests(), &vsd, &state(&vsd)).is_none());
    }

    #[test]
    fn config_is_on_the_vendors_device() {
        let m = config(
            &Naming::for_tests(),
            "gate_192_168_1_20",
            Some("Gate"),
            IP,
            "lpr",
        )
        .unwrap();
        assert_eq!(
            m.topic,
            "homeassistant/event/gate_192_168_1_20/plate/config"
        );
        assert!(m.retain);
        let v: Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(v["unique_id"], "viewtron_gate_192_168_1_20_plate_event");
        assert_eq!(v["state_topic"], "viewtron/gate_192_168_1_20/lpr/event");
        assert_eq!(v["event_types"][0], "allowed");
        assert_eq!(v["availability_topic"], "viewtron/bridge/b1/availability");
        let vendor = discovery::configs(
            &Naming::for_tests(),
            "gate_192_168_1_20",
            Some("Gate"),
            IP,
            "lpr",
        );
        let vendor: Value = serde_json::from_slice(&vendor[0].payload).unwrap();
        assert_eq!(v["device"], vendor["device"]);
        assert!(config(&Naming::for_tests(), "x", None, IP, "metadata").is_none());
        let m = config(&Naming::for_tests(), "x", None, IP, "intrusion").unwrap();
        let v: Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(v["device_class"], "motion");
    }

    #[test]
    fn message_carries_the_type_and_the_attributes() {
        let e = plate("blackList", "ZZ 999");
        let m = message(&Naming::for_tests(), &e, &state(&e)).unwrap();
        assert_eq!(m.topic, "viewtron/gate_192_168_1_20/lpr/event");
        assert!(!m.retain);
        let v: Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(v["event_type"], "denied");
        assert_eq!(v["alarm_type"], "VEHICE");
        assert_eq!(v["plate_number"], "ZZ 999");
        assert_eq!(v["plate_status"], "blackList");
        assert_eq!(v["plate_access"], "denied");
        assert_eq!(v["camera_name"], "Gate");
        assert_eq!(v["camera_id"], "gate_192_168_1_20");
        assert!(v.get("plates").is_none());
        assert!(v["timestamp"].is_string());
    }
}
