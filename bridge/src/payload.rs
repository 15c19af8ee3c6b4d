//! The state payload: what Home Assistant automations read from
//! `viewtron/<camera id>/<category>` and from webhooks.
//!
//! The vendor's keys come first, with the vendor's values, because existing
//! automations and templates read them: `event_type`, `event_description`,
//! `camera_name`, `camera_ip`, `timestamp` (camera time printed as local time
//! under `TZ`, like Python's `str(datetime.fromtimestamp(t))`), `channel_id`
//! (a string), the first plate's `plate_number` / `plate_status` /
//! `vehicle` / `plate_color`, the first face's `face`, `zone_action`, and the
//! saved image paths. Our additions follow: `plates`, `faces` and `targets`
//! (every one, in the library's documented JSON shape) and `plate_access`.
//!
//! Where the vendor's value depends on which of its parser classes read the
//! post, the rule is kept: the NVR layout (a 2.x post with an NVR smart type)
//! reports `channel_id` and falls back to `"Unknown Camera"` for a missing
//! name; the IP camera layout reports no channel and a missing name as
//! `null` (but `"Unknown Camera"` for a bare `<deviceName>` without text, as
//! its XML reader has it). The camera id and the device name of the
//! discovery configs are derived from these values exactly as the vendor
//! derives them, so the entity ids Home Assistant generates stay the same.

use std::net::IpAddr;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use viewtron::{Category, Event, Format};

/// What the vendor's parser falls back to when an NVR post has no name.
pub const UNKNOWN_CAMERA: &str = "Unknown Camera";

/// The NVR smart types: posts the vendor reads with its NVR classes.
const NVR_TYPES: [&str; 7] = [
    "regionIntrusion",
    "lineCrossing",
    "targetCountingByLine",
    "targetCountingByArea",
    "videoMetadata",
    "vehicle",
    "videoFaceDetect",
];

/// Whether the vendor would have read this event with its NVR classes.
pub fn nvr_layout(event: &Event) -> bool {
    event.format() == Format::V2
        && NVR_TYPES
            .iter()
            .any(|t| t.eq_ignore_ascii_case(event.alarm_type()))
}

/// The camera name as the vendor reports it: `None` is JSON `null`.
///
/// A 2.x post in the IP camera layout (an IPC smart type, no `messageType`)
/// is read by the vendor's IP camera class, which looks for the name only in
/// `config/deviceName` and ignores `deviceInfo/deviceName`: such a camera is
/// named by its address there, and so here, because the name makes the
/// camera id, and the camera id makes the entities users already have.
///
/// That class reads the element through its XML reader, which trims the
/// text (as the library does) and gives an element without attributes and
/// without text as `None`, which the class turns into `"Unknown Camera"`;
/// an element with an attribute (`<deviceName type="string"/>`, what the
/// cameras send) but no text, or no element at all, is `null`.
pub fn camera_name(event: &Event) -> Option<String> {
    let nvr = nvr_layout(event);
    let ipc_in_v2 = event.format() == Format::V2 && !nvr;
    let element = device_name_outside_device_info(event);
    if !nvr && element.is_some_and(|e| e.bare && e.empty) {
        return Some(UNKNOWN_CAMERA.to_owned());
    }
    if ipc_in_v2 && element.is_none() {
        return None;
    }
    match event.device_name().filter(|n| !n.is_empty()) {
        Some(name) => Some(name.to_owned()),
        None if nvr => Some(UNKNOWN_CAMERA.to_owned()),
        None => None,
    }
}

/// What the vendor's IP camera class sees of `config/deviceName`.
#[derive(Debug, Clone, Copy)]
struct NameElement {
    /// No attributes: `<deviceName>`, not `<deviceName type="string">`.
    bare: bool,
    /// No text but blanks (CDATA included), or `<deviceName/>`.
    empty: bool,
}

/// The first `<deviceName>` element outside the post's `<deviceInfo>` block,
/// read from the body as the vendor's XML reader would see it; `None` when
/// there is none.
fn device_name_outside_device_info(event: &Event) -> Option<NameElement> {
    let body = event.body().as_str()?;
    let (before, after) = match (body.find("<deviceInfo"), body.find("</deviceInfo>")) {
        (Some(start), Some(end)) if start < end => (&body[..start], &body[end..]),
        _ => (body, ""),
    };
    [before, after].into_iter().find_map(|part| {
        part.match_indices("<deviceName").find_map(|(at, open)| {
            let rest = &part[at + open.len()..];
            // `<deviceNameX` is another element.
            if !rest.starts_with(|c: char| c == '>' || c == '/' || c.is_ascii_whitespace()) {
                return None;
            }
            let end = rest.find('>')?;
            let tag = &rest[..end];
            let empty = tag.ends_with('/')
                || rest[end + 1..].find("</deviceName").is_some_and(|close| {
                    rest[end + 1..end + 1 + close]
                        .replace("<![CDATA[", "")
                        .replace("]]>", "")
                        .trim()
                        .is_empty()
                });
            Some(NameElement {
                bare: !tag.contains('='),
                empty,
            })
        })
    })
}

/// Lower case, every run of characters other than `a-z0-9` one `_`, no `_`
/// at either end: the vendor's slug.
///
/// ```text
/// "Lobby & Reception" -> "lobby_reception"
/// ```
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.trim().to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    out
}

/// `<slug of the name>_<ip with _ for . and :>`, or the address part alone
/// when the slug is empty: no name, the vendor's `Unknown Camera`, or a name
/// with no `a-z0-9` at all (Chinese, Cyrillic, Greek, Arabic, Hebrew...,
/// emoji, only punctuation). The vendor joins the slug and `_` only when the
/// slug is not empty, so `北门` at 192.168.1.20 is `192_168_1_20`, never
/// `_192_168_1_20`.
///
/// IPv6: the vendor replaces only dots, so an IPv6 camera would have colons
/// in its ids, which Home Assistant's discovery topics do not allow
/// (`[a-zA-Z0-9_-]`). It never gets there: its SDK server listens on an IPv4
/// socket only (`socketserver` with `""`), so no IPv6 camera ever reaches it.
/// Ours listens on `::` by default; colons become `_` like dots (`fe80::1`
/// → `fe80__1`), and an IPv4 camera seen through a dual-stack socket keeps
/// its IPv4 id (the library gives `::ffff:a.b.c.d` as `a.b.c.d`).
pub fn camera_id(name: Option<&str>, ip: IpAddr) -> String {
    let address = ip.to_string().replace(['.', ':'], "_");
    let slug = name
        .filter(|n| *n != UNKNOWN_CAMERA)
        .map(slug)
        .unwrap_or_default();
    if slug.is_empty() {
        address
    } else {
        format!("{slug}_{address}")
    }
}

/// The device name in discovery: the camera name when it already starts
/// with "viewtron", else `Viewtron <name>`, else `Viewtron <ip>`.
pub fn display_name(name: Option<&str>, ip: IpAddr) -> String {
    match name.filter(|n| !n.is_empty()) {
        Some(n) if n.to_lowercase().starts_with("viewtron") => n.to_owned(),
        Some(n) => format!("Viewtron {n}"),
        None => format!("Viewtron {ip}"),
    }
}

/// Camera time in local time (`TZ`), as Python's `str(datetime)` prints it:
/// `YYYY-MM-DD HH:MM:SS`, with `.ffffff` only when there is a fraction. No
/// usable camera time: the wall clock, as the vendor does.
pub fn timestamp(time_us: Option<u64>) -> String {
    let tz = jiff::tz::TimeZone::system();
    let zoned = time_us
        .and_then(|us| i64::try_from(us).ok())
        .and_then(|us| jiff::Timestamp::from_microsecond(us).ok())
        .map(|t| t.to_zoned_datetime(tz.clone()))
        .unwrap_or_else(|| jiff::ZonedDateTime::now().with_time_zone(tz));
    let micros = zoned.subsec_nanosecond() / 1000;
    let whole = zoned.strftime("%Y-%m-%d %H:%M:%S").to_string();
    if micros == 0 {
        whole
    } else {
        format!("{whole}.{micros:06}")
    }
}

/// `allowed`, `denied`, `temporary` or `unknown` for the camera's own lists
/// (`whiteList`, `blackList`, `temporaryList`, any case); NVR groups with
/// other names, stranger lists and plates in no list are `unknown`.
pub fn plate_access(group: Option<&str>) -> &'static str {
    match group.map(|g| g.trim().to_ascii_lowercase()).as_deref() {
        Some("whitelist") => "allowed",
        Some("blacklist") => "denied",
        Some("temporarylist") => "temporary",
        _ => "unknown",
    }
}

fn zone_action(alarm_type: &str) -> Option<&'static str> {
    [
        ("AOIENTRY", "entry"),
        ("AOILEAVE", "exit"),
        ("LOITER", "loiter"),
    ]
    .iter()
    .find(|(t, _)| t.eq_ignore_ascii_case(alarm_type))
    .map(|(_, action)| *action)
}

/// A JSON object that keeps its keys in insertion order (serde_json's own
/// map sorts them unless a crate-wide feature is switched on), so payloads
/// read in the vendor's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object(Vec<(String, Value)>);

impl Object {
    /// Sets `key`, in place when it exists, else at the end.
    pub fn insert(&mut self, key: &str, value: impl Into<Value>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    #[cfg(test)]
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl std::ops::Index<&str> for Object {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&Value::Null)
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// The vendor's `vehicle` object: strings, `""` when absent.
#[derive(Debug, serde::Serialize)]
struct VehicleJson<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    color: &'a str,
    brand: &'a str,
    model: &'a str,
}

/// The vendor's `face` object for the first face.
#[derive(Debug, serde::Serialize)]
struct FaceJson<'a> {
    age: &'a str,
    sex: &'a str,
    glasses: &'a str,
    mask: &'a str,
}

/// Whether an IP camera post lists any `listInfo` item: the vendor reports
/// such a plate without text as `""`, a post with no item as `<NO PLATE>`.
fn lists_items(event: &Event) -> bool {
    let Some(body) = event.body().as_str() else {
        return false;
    };
    body.find("<listInfo")
        .map(|at| &body[at..])
        .is_some_and(|rest| {
            rest.find("<item")
                .is_some_and(|i| rest.find("</listInfo>").is_none_or(|end| i < end))
        })
}

/// The state payload for one event, camera id included (it names topics).
#[derive(Debug, Clone)]
pub struct State {
    pub camera_id: String,
    pub camera_name: Option<String>,
    /// The JSON object, in key order.
    pub json: Object,
}

impl State {
    /// Builds the payload; `images` are the saved files' keys and paths
    /// (`overview_image`, `target_image`), added after the vendor's keys.
    pub fn new(event: &Event, ip: IpAddr) -> State {
        let name = camera_name(event);
        let nvr = nvr_layout(event);
        let mut json = Object::default();
        let mut put = |k: &str, v: Value| json.insert(k, v);
        put("event_type", event.alarm_type().into());
        put("event_description", event.description().into());
        put(
            "camera_name",
            name.clone().map_or(Value::Null, Value::String),
        );
        put("camera_ip", ip.to_string().into());
        put("timestamp", timestamp(event.time_us()).into());
        if let (true, Some(channel)) = (nvr, event.channel()) {
            put("channel_id", channel.to_string().into());
        }
        if event.category() == Category::Lpr {
            let plate = event.plate();
            let number = match plate.and_then(|p| p.number.as_deref()) {
                Some(n) => n.to_owned(),
                None if !nvr && lists_items(event) => String::new(),
                None => "<NO PLATE>".to_owned(),
            };
            put("plate_number", number.into());
            let group = event.plate_group().filter(|g| !g.trim().is_empty());
            put("plate_status", group.unwrap_or("Unknown").into());
            if let Some(v) = event
                .vehicle()
                .filter(|v| v.brand.as_deref().is_some_and(|b| !b.is_empty()))
            {
                fn s(x: &Option<String>) -> &str {
                    x.as_deref().unwrap_or("")
                }
                let vehicle = VehicleJson {
                    kind: s(&v.kind),
                    color: s(&v.color),
                    brand: s(&v.brand),
                    model: s(&v.model),
                };
                put(
                    "vehicle",
                    serde_json::to_value(vehicle).unwrap_or(Value::Null),
                );
            }
            if let Some(color) = plate
                .and_then(|p| p.color.as_deref())
                .filter(|c| !c.is_empty())
            {
                put("plate_color", color.into());
            }
        }
        if event.category() == Category::Face {
            if let Some(face) = event
                .faces()
                .first()
                .filter(|f| f.age.as_deref().is_some_and(|a| !a.is_empty()))
            {
                fn s(x: &Option<String>) -> &str {
                    x.as_deref().unwrap_or("")
                }
                let face = FaceJson {
                    age: s(&face.age),
                    sex: s(&face.sex),
                    glasses: s(&face.glasses),
                    mask: s(&face.mask),
                };
                put("face", serde_json::to_value(face).unwrap_or(Value::Null));
            }
        }
        if let Some(action) = zone_action(event.alarm_type()) {
            put("zone_action", action.into());
        }
        State {
            camera_id: camera_id(name.as_deref(), ip),
            camera_name: name,
            json,
        }
    }

    /// Adds a saved image's path (`overview_image` or `target_image`).
    pub fn add_image_path(&mut self, key: &str, path: &str) {
        self.json.insert(key, path);
    }

    /// Adds our keys after the vendor's: every plate, face and target, and
    /// the normalised plate access.
    pub fn add_extras(&mut self, event: &Event) {
        if let Ok(Value::Object(mut all)) = serde_json::to_value(event) {
            for key in ["plates", "faces", "targets"] {
                if let Some(v) = all.remove(key) {
                    self.json.insert(key, v);
                }
            }
        }
        if event.category() == Category::Lpr {
            self.json
                .insert("plate_access", plate_access(event.plate_group()));
        }
    }

    /// The plate number, for de-duplication and the log line.
    pub fn plate_number(&self) -> Option<&str> {
        self.json.get("plate_number").and_then(Value::as_str)
    }

    /// The payload as JSON bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.json.to_bytes()
    }
}

#[cfg(test)]
mod tests;
