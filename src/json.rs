//! `serde::Serialize` for posts and events, in the documented JSON shape.
//!
//! Enabled by the `serde` cargo feature. [`Post`], [`Event`], [`Keepalive`],
//! [`AlarmStatus`] and [`Unrecognized`] serialise to one flat object whose
//! `kind` says which it is (`event`, `keepalive`, `alarm_status`,
//! `unrecognized`, as [`Post::kind`] returns). The shape is stable: every key
//! is always present, absent values are `null`, numbers are numbers, and new
//! keys may be added but none are renamed or removed.
//!
//! * event: `category`, `alarm_type`, `description`, `format`,
//!   `config_version`, `device`, `time_us`, `plate`, `plates`, `vehicle`,
//!   `faces`, `targets`, `source_image_len`, `target_image_len`;
//! * keepalive: `device`, `format`;
//! * alarm status: `device`, `format`, `time_us`, `time_text`, `alarms`;
//! * unrecognized: `reason`, `smart_type`, `description`.
//!
//! Image data is never written: `source_image_len`, `target_image_len` and
//! each plate's, face's and target's `image_len` give the decoded size in
//! bytes ([`Image::decoded_len`]), or `null` when there is no image or its
//! base64 is invalid. Rectangles are `[x1, y1, x2, y2]`, points `[x, y]`.
//!
//! ```
//! let xml = r#"<config version="2.0.0" xmlns="http://www.ipc.com/ver10">
//!   <messageType>alarmData</messageType>
//!   <deviceInfo><deviceName>Gate</deviceName><channelId>2</channelId></deviceInfo>
//!   <smartType>vehicle</smartType>
//!   <currentTime>1772210268473000</currentTime>
//!   <licensePlateListInfo><item>
//!     <targetId>7</targetId>
//!     <licensePlateAttribute><licensePlateNumber>KT 4021</licensePlateNumber></licensePlateAttribute>
//!     <carAttribute><carType>suv</carType></carAttribute>
//!   </item></licensePlateListInfo>
//! </config>"#;
//! let post = viewtron::parse(xml)?;
//! let json = serde_json::to_string(&post).unwrap();
//! println!("{json}");
//! assert!(json.starts_with(r#"{"kind":"event","category":"lpr","alarm_type":"vehicle","#));
//!
//! let value = serde_json::to_value(&post).unwrap();
//! assert_eq!(value["device"]["channel"], 2);
//! assert_eq!(value["time_us"], 1_772_210_268_473_000_u64);
//! assert_eq!(value["plate"]["number"], "KT 4021");
//! assert_eq!(value["plate"]["group"], serde_json::Value::Null);
//! assert_eq!(value["vehicle"]["type"], "suv");
//! assert_eq!(value["targets"][0]["type"], "car");
//! assert_eq!(value["source_image_len"], serde_json::Value::Null);
//! # Ok::<(), viewtron::ParseError>(())
//! ```

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::event::{
    Alarm, AlarmStatus, Device, Event, Face, Keepalive, Plate, Point, Post, Rect, Region, Target,
    Unrecognized, Vehicle,
};
use crate::Image;

/// Decoded size of an optional image; `None` when absent or undecodable.
fn image_len(image: Option<&Image>) -> Option<usize> {
    image.and_then(|i| i.decoded_len().ok())
}

/// An `f32` as the `f64` nearest its shortest decimal form, so that 97.25 or
/// 99.37 stays 97.25 or 99.37 in every serializer (a plain widening cast
/// gives 99.37000274658203).
fn widen(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::NAN)
}

/// A slice serialised as a JSON array, each element through a wrapper.
struct Each<'a, T, W>(&'a [T], fn(&'a T) -> W);

impl<'a, T, W: Serialize> Serialize for Each<'a, T, W> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(self.1))
    }
}

/// `{"name","ip","mac","serial","channel"}`.
struct DeviceJson<'a>(&'a Device);

impl Serialize for DeviceJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        let mut map = s.serialize_map(Some(5))?;
        map.serialize_entry("name", &d.name)?;
        map.serialize_entry("ip", &d.ip)?;
        map.serialize_entry("mac", &d.mac)?;
        map.serialize_entry("serial", &d.serial)?;
        map.serialize_entry("channel", &d.channel)?;
        map.end()
    }
}

/// `[x1, y1, x2, y2]`.
struct RectJson(Rect);

impl Serialize for RectJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        [r.x1, r.y1, r.x2, r.y2].serialize(s)
    }
}

/// `[x, y]`.
struct PointJson(Point);

impl Serialize for PointJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        [self.0.x, self.0.y].serialize(s)
    }
}

/// `{"type":"polygon","points":[[x,y],…]}` or `{"type":"line","start":[x,y],"end":[x,y]}`.
struct RegionJson<'a>(&'a Region);

impl Serialize for RegionJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Region::Polygon(points) => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("type", "polygon")?;
                map.serialize_entry("points", &Each(points, |p| PointJson(*p)))?;
                map.end()
            }
            Region::Line { start, end } => {
                let mut map = s.serialize_map(Some(3))?;
                map.serialize_entry("type", "line")?;
                map.serialize_entry("start", &PointJson(*start))?;
                map.serialize_entry("end", &PointJson(*end))?;
                map.end()
            }
        }
    }
}

/// `{"type","color","brand","model"}`.
struct VehicleJson<'a>(&'a Vehicle);

impl Serialize for VehicleJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        let mut map = s.serialize_map(Some(4))?;
        map.serialize_entry("type", &v.kind)?;
        map.serialize_entry("color", &v.color)?;
        map.serialize_entry("brand", &v.brand)?;
        map.serialize_entry("model", &v.model)?;
        map.end()
    }
}

/// `{"number","group","color","direction","confidence","owner","vehicle","image_len"}`.
struct PlateJson<'a>(&'a Plate);

impl Serialize for PlateJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        let mut map = s.serialize_map(Some(8))?;
        map.serialize_entry("number", &p.number)?;
        map.serialize_entry("group", &p.group)?;
        map.serialize_entry("color", &p.color)?;
        map.serialize_entry("direction", &p.direction.as_ref().map(|d| d.as_str()))?;
        map.serialize_entry("confidence", &p.confidence.map(widen))?;
        map.serialize_entry("owner", &p.owner)?;
        map.serialize_entry("vehicle", &p.vehicle.as_ref().map(VehicleJson))?;
        map.serialize_entry("image_len", &image_len(p.image.as_ref()))?;
        map.end()
    }
}

/// `{"age","sex","glasses","mask","id","rect","image_len"}`.
struct FaceJson<'a>(&'a Face);

impl Serialize for FaceJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self.0;
        let mut map = s.serialize_map(Some(7))?;
        map.serialize_entry("age", &f.age)?;
        map.serialize_entry("sex", &f.sex)?;
        map.serialize_entry("glasses", &f.glasses)?;
        map.serialize_entry("mask", &f.mask)?;
        map.serialize_entry("id", &f.id)?;
        map.serialize_entry("rect", &f.rect.map(RectJson))?;
        map.serialize_entry("image_len", &image_len(f.image.as_ref()))?;
        map.end()
    }
}

/// `{"id","type","event_id","status","rect","region","point","velocity","direction","image_len"}`.
struct TargetJson<'a>(&'a Target);

impl Serialize for TargetJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut map = s.serialize_map(Some(10))?;
        map.serialize_entry("id", &t.id)?;
        map.serialize_entry("type", &t.kind.as_ref().map(|k| k.as_str()))?;
        map.serialize_entry("event_id", &t.event_id)?;
        map.serialize_entry("status", &t.status.as_ref().map(|s| s.as_str()))?;
        map.serialize_entry("rect", &t.rect.map(RectJson))?;
        map.serialize_entry("region", &t.region.as_ref().map(RegionJson))?;
        map.serialize_entry("point", &t.point.map(PointJson))?;
        map.serialize_entry("velocity", &t.velocity)?;
        map.serialize_entry("direction", &t.direction)?;
        map.serialize_entry("image_len", &image_len(t.image.as_ref()))?;
        map.end()
    }
}

/// `{"name","id","active"}`.
struct AlarmJson<'a>(&'a Alarm);

impl Serialize for AlarmJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("name", &a.name)?;
        map.serialize_entry("id", &a.id)?;
        map.serialize_entry("active", &a.active)?;
        map.end()
    }
}

/// Serialises the post it wraps: one object, with `kind` first.
///
/// ```
/// let json = serde_json::to_string(&viewtron::parse("")?).unwrap();
/// assert_eq!(json, r#"{"kind":"keepalive","device":{"name":null,"ip":null,"mac":null,"serial":null,"channel":null},"format":null}"#);
/// # Ok::<(), viewtron::ParseError>(())
/// ```
impl Serialize for Post {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Post::Event(e) => e.serialize(s),
            Post::Keepalive(k) => k.serialize(s),
            Post::AlarmStatus(a) => a.serialize(s),
            Post::Unrecognized(u) => u.serialize(s),
        }
    }
}

/// `{"kind":"event", "category", "alarm_type", "description", "format",
/// "config_version", "device", "time_us", "plate", "plates", "vehicle",
/// "faces", "targets", "source_image_len", "target_image_len"}`. Image
/// lengths are computed by decoding (without allocating) when serialising.
///
/// ```
/// let xml = "<config version='1.7'><smartType>PEA</smartType><perimeter><perInfo><item>\
///   <targetId>3</targetId><rect><x1>1</x1><y1>2</y1><x2>3</x2><y2>4</y2></rect>\
///   </item></perInfo></perimeter></config>";
/// let viewtron::Post::Event(event) = viewtron::parse(xml)? else { panic!() };
/// let value = serde_json::to_value(&event).unwrap();
/// assert_eq!(value["category"], "intrusion");
/// assert_eq!(value["targets"][0]["rect"], serde_json::json!([1, 2, 3, 4]));
/// # Ok::<(), viewtron::ParseError>(())
/// ```
impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(15))?;
        map.serialize_entry("kind", "event")?;
        map.serialize_entry("category", self.category().as_str())?;
        map.serialize_entry("alarm_type", self.alarm_type())?;
        map.serialize_entry("description", self.description())?;
        map.serialize_entry("format", self.format().as_str())?;
        map.serialize_entry("config_version", self.config_version())?;
        map.serialize_entry("device", &DeviceJson(self.device()))?;
        map.serialize_entry("time_us", &self.time_us())?;
        map.serialize_entry("plate", &self.plate().map(PlateJson))?;
        map.serialize_entry("plates", &Each(self.plates(), PlateJson))?;
        map.serialize_entry("vehicle", &self.vehicle().map(VehicleJson))?;
        map.serialize_entry("faces", &Each(self.faces(), FaceJson))?;
        map.serialize_entry("targets", &Each(self.targets(), TargetJson))?;
        map.serialize_entry("source_image_len", &image_len(self.source_image()))?;
        map.serialize_entry("target_image_len", &image_len(self.target_image()))?;
        map.end()
    }
}

/// `{"kind":"keepalive", "device", "format"}`; `format` is `null` for an
/// empty body or a `<DeviceInfo>` heartbeat.
///
/// ```
/// let post = viewtron::parse("<DeviceInfo><DeviceName>Lobby</DeviceName></DeviceInfo>")?;
/// let value = serde_json::to_value(&post).unwrap();
/// assert_eq!(value["device"]["name"], "Lobby");
/// assert_eq!(value["format"], serde_json::Value::Null);
/// # Ok::<(), viewtron::ParseError>(())
/// ```
impl Serialize for Keepalive {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("kind", "keepalive")?;
        map.serialize_entry("device", &DeviceJson(&self.device))?;
        map.serialize_entry("format", &self.format.map(|f| f.as_str()))?;
        map.end()
    }
}

/// `{"kind":"alarm_status", "device", "format", "time_us", "time_text",
/// "alarms":[{"name","id","active"}]}`.
///
/// ```
/// let xml = "<config version='2.0.0'><messageType>alarmStatus</messageType><alarmStatusInfo>\
///   <vfdAlarm><item id='1'>false</item></vfdAlarm></alarmStatusInfo></config>";
/// let value = serde_json::to_value(viewtron::parse(xml)?).unwrap();
/// assert_eq!(value["alarms"], serde_json::json!([{"name": "vfdAlarm", "id": "1", "active": false}]));
/// # Ok::<(), viewtron::ParseError>(())
/// ```
impl Serialize for AlarmStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(6))?;
        map.serialize_entry("kind", "alarm_status")?;
        map.serialize_entry("device", &DeviceJson(&self.device))?;
        map.serialize_entry("format", self.format.as_str())?;
        map.serialize_entry("time_us", &self.time_us)?;
        map.serialize_entry("time_text", &self.time_text)?;
        map.serialize_entry("alarms", &Each(&self.alarms, AlarmJson))?;
        map.end()
    }
}

/// `{"kind":"unrecognized", "reason", "smart_type", "description"}`; `reason`
/// is one of [`UnrecognizedReason::as_str`](crate::UnrecognizedReason::as_str).
///
/// ```
/// let value = serde_json::to_value(viewtron::parse("<config version='1.7'><smartType>FIRE</smartType></config>")?).unwrap();
/// assert_eq!(value, serde_json::json!({
///     "kind": "unrecognized", "reason": "unknown-smartType", "smart_type": "FIRE", "description": null,
/// }));
/// # Ok::<(), viewtron::ParseError>(())
/// ```
impl Serialize for Unrecognized {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(4))?;
        map.serialize_entry("kind", "unrecognized")?;
        map.serialize_entry("reason", self.reason.as_str())?;
        map.serialize_entry("smart_type", &self.smart_type)?;
        map.serialize_entry("description", &self.description)?;
        map.end()
    }
}
