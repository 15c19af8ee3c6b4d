//! The event model: what a camera or NVR says, as typed values.

mod parts;
mod post;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use parts::{
    Device, Direction, Face, Plate, Point, Rect, Region, Target, TargetStatus, TargetType, Vehicle,
};
pub use post::{Alarm, AlarmStatus, Keepalive, Post, Unrecognized, UnrecognizedReason};

use crate::{Body, Image, ImageError};

/// The broad class of an event, as the Python SDK names it.
///
/// ```
/// use viewtron::Category;
///
/// assert_eq!(Category::Lpr.to_string(), "lpr");
/// assert_eq!(Category::Traject.as_str(), "traject");
/// ```
///
/// New categories may be added in minor releases (the protocol already names
/// codes without one), so a `match` needs a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Category {
    /// Licence plate recognition (`VEHICE`, `VEHICLE`, `vehicle`).
    Lpr,
    /// Face detection or matching (`VFD`, `VFD_MATCH`, `videoFaceDetect`).
    Face,
    /// Perimeter, line crossing, zone entry/exit, loitering, parking.
    Intrusion,
    /// Target counting by line or area.
    Counting,
    /// Video metadata (`VSD`, `videoMetadata`).
    Metadata,
    /// Smart tracking data (IP cameras only; high volume).
    Traject,
}

impl Category {
    /// Every category, in declaration order (which is also their `Ord` order).
    ///
    /// A slice, not an array: its length grows when a category is added.
    ///
    /// ```
    /// use viewtron::Category;
    ///
    /// let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    /// assert_eq!(names[..2], ["lpr", "face"]);
    /// assert!(Category::ALL.contains(&Category::Traject));
    /// assert!(Category::ALL.windows(2).all(|w| w[0] < w[1]));
    /// ```
    pub const ALL: &'static [Category] = &[
        Category::Lpr,
        Category::Face,
        Category::Intrusion,
        Category::Counting,
        Category::Metadata,
        Category::Traject,
    ];

    /// How many categories there are: the length of per-category tables.
    pub(crate) const COUNT: usize = Category::ALL.len();

    /// This category's position in [`ALL`](Category::ALL), for indexing
    /// per-category tables of [`COUNT`](Category::COUNT) entries.
    ///
    /// The match is exhaustive, so a new variant does not compile until it
    /// is given an index; the assertion after this `impl` fails the build
    /// unless each entry of `ALL` sits at its own index. A new category can
    /// therefore never be counted under another one's key (one missing from
    /// `ALL` would index past a `COUNT`-sized table: a panic, not a misfile).
    pub(crate) const fn index(self) -> usize {
        match self {
            Category::Lpr => 0,
            Category::Face => 1,
            Category::Intrusion => 2,
            Category::Counting => 3,
            Category::Metadata => 4,
            Category::Traject => 5,
        }
    }

    /// The SDK's lowercase name: `lpr`, `face`, `intrusion`, `counting`, `metadata`, `traject`.
    ///
    /// ```
    /// assert_eq!(viewtron::Category::Counting.as_str(), "counting");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Lpr => "lpr",
            Category::Face => "face",
            Category::Intrusion => "intrusion",
            Category::Counting => "counting",
            Category::Metadata => "metadata",
            Category::Traject => "traject",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// `Category::index` and `Category::ALL` agree: every index is the position in
// `ALL`, so `COUNT`-sized tables have exactly one slot per category.
const _: () = {
    let mut i = 0;
    while i < Category::COUNT {
        assert!(
            Category::ALL[i].index() == i,
            "Category::ALL out of step with Category::index"
        );
        i += 1;
    }
};

/// The XML layout family of a post, from the major digit of `config/@version`.
///
/// ```
/// assert_eq!(viewtron::Format::V2.to_string(), "v2");
/// ```
///
/// A future firmware family may add a variant, so a `match` needs a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// IP camera layout (config version `1.x`).
    V1,
    /// NVR layout (config version `2.x`).
    V2,
}

impl Format {
    /// `v1` or `v2`.
    ///
    /// ```
    /// assert_eq!(viewtron::Format::V1.as_str(), "v1");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Format::V1 => "v1",
            Format::V2 => "v2",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One detection from a camera or NVR: a plate, faces, an intrusion, a count,
/// metadata or tracking data.
///
/// An `Event` shares the post body it came from; its images are spans of that
/// body. Cloning is a reference-count bump; `Debug` never prints image data.
///
/// ```
/// use viewtron::{parse, Category, Post};
///
/// let xml = r#"<config version="2.0.0" xmlns="http://www.ipc.com/ver10">
///   <messageType>alarmData</messageType>
///   <deviceInfo><deviceName>Yard</deviceName><channelId>3</channelId></deviceInfo>
///   <smartType>lineCrossing</smartType>
///   <currentTime>1772057090604000</currentTime>
/// </config>"#;
/// let Ok(Post::Event(event)) = parse(xml) else { panic!("not an event") };
/// assert_eq!(event.category(), Category::Intrusion);
/// assert_eq!(event.alarm_type(), "lineCrossing");
/// assert_eq!(event.description(), "Line Crossing");
/// assert_eq!(event.device_name(), Some("Yard"));
/// assert_eq!(event.channel(), Some(3));
/// assert_eq!(event.time_us(), Some(1_772_057_090_604_000));
/// ```
#[derive(Clone)]
pub struct Event(Arc<EventData>);

/// The parsed content of an event; built by the parser.
pub(crate) struct EventData {
    pub body: Body,
    pub category: Category,
    pub alarm_type: String,
    pub description: &'static str,
    pub format: Format,
    pub config_version: String,
    pub device: Device,
    pub time_us: Option<u64>,
    pub targets: Vec<Target>,
    pub plates: Vec<Plate>,
    pub faces: Vec<Face>,
    pub source_image: Option<Image>,
}

impl Event {
    pub(crate) fn new(data: EventData) -> Event {
        Event(Arc::new(data))
    }

    /// The event's category.
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.0'><smartType>VSD</smartType></config>") else { panic!() };
    /// assert_eq!(event.category(), viewtron::Category::Metadata);
    /// ```
    pub fn category(&self) -> Category {
        self.0.category
    }

    /// The `smartType` exactly as sent (`VEHICE`, `regionIntrusion`, …), or
    /// `traject` for tracking posts. Python: `get_alarm_type()`.
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.0'><smartType>pea</smartType></config>") else { panic!() };
    /// assert_eq!(event.alarm_type(), "pea"); // matched case-insensitively, reported raw
    /// ```
    pub fn alarm_type(&self) -> &str {
        &self.0.alarm_type
    }

    /// The SDK's human description (`License Plate Detection`, `Smart Tracking`, …).
    /// Python: `get_alarm_description()`.
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.0'><smartType>AOILEAVE</smartType></config>") else { panic!() };
    /// assert_eq!(event.description(), "Intrusion Zone Exit");
    /// ```
    pub fn description(&self) -> &'static str {
        self.0.description
    }

    /// The layout family, `v1` (IP camera) or `v2` (NVR).
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.7'><smartType>VFD</smartType></config>") else { panic!() };
    /// assert_eq!(event.format(), viewtron::Format::V1);
    /// ```
    pub fn format(&self) -> Format {
        self.0.format
    }

    /// The raw `config/@version` text (`1.7`, `2.0.0`, …).
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.7'><smartType>VFD</smartType></config>") else { panic!() };
    /// assert_eq!(event.config_version(), "1.7");
    /// ```
    pub fn config_version(&self) -> &str {
        &self.0.config_version
    }

    /// The sending device.
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.7'><smartType>VFD</smartType><sn>X1</sn></config>") else { panic!() };
    /// assert_eq!(event.device().serial.as_deref(), Some("X1"));
    /// ```
    pub fn device(&self) -> &Device {
        &self.0.device
    }

    /// The device name. Python: `get_device_name()`.
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.7'><smartType>VFD</smartType><deviceName>Door</deviceName></config>") else { panic!() };
    /// assert_eq!(event.device_name(), Some("Door"));
    /// ```
    pub fn device_name(&self) -> Option<&str> {
        self.0.device.name.as_deref()
    }

    /// The channel number. Python: `get_channel_id()`.
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.7'><smartType>VFD</smartType><channelId>2</channelId></config>") else { panic!() };
    /// assert_eq!(event.channel(), Some(2));
    /// ```
    pub fn channel(&self) -> Option<u32> {
        self.0.device.channel
    }

    /// Camera time in microseconds since the Unix epoch, after choosing the
    /// unit by magnitude; `None` when absent or implausible (outside 2000–2100).
    /// Python: `get_time_stamp()`.
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.7'><smartType>VFD</smartType><currentTime>1732045234</currentTime></config>") else { panic!() };
    /// assert_eq!(event.time_us(), Some(1_732_045_234_000_000)); // seconds, scaled
    /// ```
    pub fn time_us(&self) -> Option<u64> {
        self.0.time_us
    }

    /// Camera time as a [`SystemTime`].
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.7'><smartType>VFD</smartType><currentTime>18445822972087551616</currentTime></config>") else { panic!() };
    /// assert_eq!(event.time(), None); // garbage some NVRs send
    /// ```
    pub fn time(&self) -> Option<SystemTime> {
        self.0
            .time_us
            .map(|us| UNIX_EPOCH + Duration::from_micros(us))
    }

    /// Every target, in the order the camera listed them.
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.7'><smartType>VFD</smartType></config>") else { panic!() };
    /// assert!(event.targets().is_empty());
    /// ```
    pub fn targets(&self) -> &[Target] {
        &self.0.targets
    }

    /// The plate of an LPR event; `None` when the camera read none.
    ///
    /// In an IP camera post, a `listInfo` item without plate text (no
    /// `plateNumber`, or an empty one) is the overview picture, never a
    /// plate: its picture is the [`source_image`](Event::source_image).
    ///
    /// ```
    /// use viewtron::{parse, Post};
    ///
    /// let xml = r#"<config version="1.7"><smartType>VEHICE</smartType><listInfo>
    ///   <item><plateNumber><![CDATA[]]></plateNumber><PlateConfidence count="0"/>
    ///     <targetImageData><targetBase64Data>/9j/4A==</targetBase64Data></targetImageData></item>
    ///   <item><plateNumber>KV21 XRT</plateNumber></item>
    /// </listInfo></config>"#;
    /// let Ok(Post::Event(event)) = parse(xml) else { panic!() };
    /// assert_eq!(event.plate().and_then(|p| p.number.as_deref()), Some("KV21 XRT"));
    /// assert_eq!(event.source_image().map(|i| i.base64()), Some("/9j/4A=="));
    /// assert_eq!(event.targets().len(), 1); // the plate's car, not the overview
    /// ```
    pub fn plate(&self) -> Option<&Plate> {
        self.0.plates.first()
    }

    /// Every plate of an LPR event (NVRs may list several).
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.7'><smartType>VEHICLE</smartType><listInfo><item><plateNumber>A1</plateNumber></item><item><plateNumber>B2</plateNumber></item></listInfo></config>") else { panic!() };
    /// let numbers: Vec<_> = event.plates().iter().filter_map(|p| p.number.as_deref()).collect();
    /// assert_eq!(numbers, ["A1", "B2"]);
    /// ```
    pub fn plates(&self) -> &[Plate] {
        &self.0.plates
    }

    /// The plate text; `None` (not a placeholder) when there is none.
    /// Python: `get_plate_number()`.
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.7'><smartType>VEHICLE</smartType><listInfo><item><plateNumber>AB12</plateNumber></item></listInfo></config>") else { panic!() };
    /// assert_eq!(event.plate_number(), Some("AB12"));
    /// ```
    pub fn plate_number(&self) -> Option<&str> {
        self.plate()?.number.as_deref()
    }

    /// The plate's list / group. Python: `get_plate_group()`.
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.7'><smartType>VEHICLE</smartType><listInfo><item><plateNumber>AB12</plateNumber></item></listInfo></config>") else { panic!() };
    /// assert_eq!(event.plate_group(), None); // not in the database
    /// ```
    pub fn plate_group(&self) -> Option<&str> {
        self.plate()?.group.as_deref()
    }

    /// Vehicle attributes of an LPR event. Python: `get_vehicle_*()`.
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.7'><smartType>VEHICLE</smartType><listInfo><item><plateNumber>V1</plateNumber><carAttr><brand>Volvo</brand></carAttr></item></listInfo></config>") else { panic!() };
    /// assert_eq!(event.vehicle().unwrap().brand.as_deref(), Some("Volvo"));
    /// ```
    pub fn vehicle(&self) -> Option<&Vehicle> {
        self.plate()?.vehicle.as_ref()
    }

    /// Every face of a face event. Python: `get_face_*()` (first face only there).
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.7'><smartType>VFD</smartType></config>") else { panic!() };
    /// assert!(event.faces().is_empty());
    /// ```
    pub fn faces(&self) -> &[Face] {
        &self.0.faces
    }

    /// The overview picture. Python: `get_source_image()` gives its base64.
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.7'><smartType>VFD</smartType></config>") else { panic!() };
    /// assert!(event.source_image().is_none());
    /// ```
    pub fn source_image(&self) -> Option<&Image> {
        self.0.source_image.as_ref()
    }

    /// The first crop: the plate crop of an LPR event, else the first face's,
    /// else the first target's. Python: `get_target_image()` gives its base64.
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.7'><smartType>VFD</smartType></config>") else { panic!() };
    /// assert!(event.target_image().is_none());
    /// ```
    pub fn target_image(&self) -> Option<&Image> {
        let plate = self.plate().and_then(|p| p.image.as_ref());
        plate
            .or_else(|| self.faces().iter().find_map(|f| f.image.as_ref()))
            .or_else(|| self.targets().iter().find_map(|t| t.image.as_ref()))
    }

    /// Decoded overview picture: `None` without one, `Some(Err)` when its
    /// base64 is invalid. Python: `get_source_image_bytes()`.
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.7'><smartType>VFD</smartType></config>") else { panic!() };
    /// assert!(event.source_image_bytes().is_none());
    /// ```
    pub fn source_image_bytes(&self) -> Option<Result<Vec<u8>, ImageError>> {
        self.source_image().map(Image::bytes)
    }

    /// Decoded first crop (see [`target_image`](Event::target_image)).
    /// Python: `get_target_image_bytes()`.
    ///
    /// ```
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse("<config version='1.7'><smartType>VFD</smartType></config>") else { panic!() };
    /// assert!(event.target_image_bytes().is_none());
    /// ```
    pub fn target_image_bytes(&self) -> Option<Result<Vec<u8>, ImageError>> {
        self.target_image().map(Image::bytes)
    }

    /// The whole post body this event was parsed from (shared, not copied).
    ///
    /// ```
    /// # let xml = "<config version='1.7'><smartType>VFD</smartType></config>";
    /// # let Ok(viewtron::Post::Event(event)) = viewtron::parse(xml) else { panic!() };
    /// assert_eq!(event.body().as_str(), Some(xml));
    /// ```
    pub fn body(&self) -> &Body {
        &self.0.body
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        f.debug_struct("Event")
            .field("category", &self.category())
            .field("alarm_type", &d.alarm_type)
            .field("format", &self.format())
            .field("device", &d.device)
            .field("time_us", &d.time_us)
            .field("plates", &d.plates)
            .field("faces", &d.faces)
            .field("targets", &d.targets)
            .field("source_image", &d.source_image)
            .field("body", &d.body)
            .finish()
    }
}
