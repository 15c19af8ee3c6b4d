//! The pieces an event is made of: device, targets, plate, vehicle, faces.

use std::fmt;

use crate::Image;

/// The device that sent a post, from whichever fields its layout carries.
///
/// IP cameras (v1 layout) send `deviceName`, `mac`, `sn` and sometimes
/// `channelId`; NVRs (v2 layout) send `deviceInfo/{deviceName, ip, mac, channelId}`.
/// Absent or empty fields are `None`.
///
/// ```
/// use viewtron::{parse, Post};
///
/// let xml = "<config version=\"2.0.0\"><messageType>keepalive</messageType>\
///            <deviceInfo><deviceName><![CDATA[Gate]]></deviceName><ip>10.0.0.9</ip>\
///            <mac/></deviceInfo></config>";
/// let Ok(Post::Keepalive(k)) = parse(xml) else { panic!() };
/// assert_eq!(k.device.name.as_deref(), Some("Gate"));
/// assert_eq!(k.device.ip.as_deref(), Some("10.0.0.9"));
/// assert_eq!(k.device.mac, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Device {
    /// Device name as configured on the camera or NVR.
    pub name: Option<String>,
    /// The IP address the device reports for itself (not the TCP peer).
    pub ip: Option<String>,
    /// MAC address, as sent.
    pub mac: Option<String>,
    /// Serial number (`sn` / `SN`).
    pub serial: Option<String>,
    /// Channel (NVR `channelId`, camera `channelId` or `deviceNo.`).
    pub channel: Option<u32>,
}

/// A point in the camera's normalised 0–10000 coordinate space.
///
/// ```
/// let p = viewtron::Point { x: 5000, y: 2500 };
/// assert_eq!(p.scale(1920, 1080), (960, 270));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Point {
    /// Horizontal position.
    pub x: u32,
    /// Vertical position.
    pub y: u32,
}

impl Point {
    /// Converts normalised 0–10000 coordinates to pixels of a `width` × `height` picture.
    ///
    /// ```
    /// assert_eq!(viewtron::Point { x: 10000, y: 0 }.scale(1280, 720), (1280, 0));
    /// ```
    pub fn scale(self, width: u32, height: u32) -> (u32, u32) {
        let s = |v: u32, size: u32| (u64::from(v) * u64::from(size) / 10_000) as u32;
        (s(self.x, width), s(self.y, height))
    }
}

/// A bounding box: `(x1, y1)` top left, `(x2, y2)` bottom right.
///
/// Normalised 0–10000, except the plate box of NVR (v2) `vehicle` posts, which is in pixels.
///
/// ```
/// let r = viewtron::Rect { x1: 100, y1: 200, x2: 300, y2: 600 };
/// assert_eq!((r.width(), r.height()), (200, 400));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rect {
    /// Left edge.
    pub x1: u32,
    /// Top edge.
    pub y1: u32,
    /// Right edge.
    pub x2: u32,
    /// Bottom edge.
    pub y2: u32,
}

impl Rect {
    /// `x2 - x1`, or 0 when the box is inverted.
    ///
    /// ```
    /// assert_eq!(viewtron::Rect { x1: 5, y1: 0, x2: 3, y2: 0 }.width(), 0);
    /// ```
    pub fn width(&self) -> u32 {
        self.x2.saturating_sub(self.x1)
    }

    /// `y2 - y1`, or 0 when the box is inverted.
    ///
    /// ```
    /// assert_eq!(viewtron::Rect { x1: 0, y1: 10, x2: 0, y2: 30 }.height(), 20);
    /// ```
    pub fn height(&self) -> u32 {
        self.y2.saturating_sub(self.y1)
    }
}

/// The rule geometry a target triggered: a zone polygon or a tripwire line.
///
/// ```
/// use viewtron::{Point, Region};
///
/// let line = Region::Line { start: Point { x: 0, y: 0 }, end: Point { x: 10, y: 10 } };
/// assert!(matches!(line, Region::Line { .. }));
/// ```
///
/// Other rule shapes may be added in minor releases, so a `match` needs a
/// `_` arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Region {
    /// An area rule (v1 `boundary`, v2 `pointGroup`).
    Polygon(Vec<Point>),
    /// A tripwire (v1 `line`, v2 `directionLine`).
    Line {
        /// First point of the line.
        start: Point,
        /// Second point of the line.
        end: Point,
    },
}

/// What kind of object a target is.
///
/// Normalised from the v1 numeric codes (1 person, 2 car, 4 bike) and the
/// v2 / traject text (`person`, `car`, `motor`).
///
/// ```
/// use viewtron::TargetType;
///
/// assert_eq!(TargetType::from_code("2"), TargetType::Car);
/// assert_eq!(TargetType::from_code("MOTOR"), TargetType::Motor);
/// assert_eq!(TargetType::from_code("boat").to_string(), "boat");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TargetType {
    /// A person (v1 `1`, text `person`).
    Person,
    /// A car or other four-wheeled vehicle (v1 `2`, text `car`).
    Car,
    /// A motorbike or bicycle (v1 `4`, text `motor`).
    Motor,
    /// Any other code, as sent.
    Other(String),
}

impl TargetType {
    /// Interprets a numeric (v1) or textual (v2, traject) target type, case-insensitively.
    ///
    /// ```
    /// assert_eq!(viewtron::TargetType::from_code(" person "), viewtron::TargetType::Person);
    /// ```
    pub fn from_code(code: &str) -> TargetType {
        let code = code.trim();
        if code == "1" || code.eq_ignore_ascii_case("person") {
            TargetType::Person
        } else if code == "2" || code.eq_ignore_ascii_case("car") {
            TargetType::Car
        } else if code == "4" || code.eq_ignore_ascii_case("motor") {
            TargetType::Motor
        } else {
            TargetType::Other(code.to_owned())
        }
    }

    /// The lowercase name: `person`, `car`, `motor`, or the code as sent.
    ///
    /// ```
    /// assert_eq!(viewtron::TargetType::Motor.as_str(), "motor");
    /// ```
    pub fn as_str(&self) -> &str {
        match self {
            TargetType::Person => "person",
            TargetType::Car => "car",
            TargetType::Motor => "motor",
            TargetType::Other(s) => s,
        }
    }
}

impl fmt::Display for TargetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a target is in its rule's life: the `status` of a rule item.
///
/// The protocol names four values; a camera sending anything else has it
/// kept as [`Other`](TargetStatus::Other). Codes are matched exactly as the
/// protocol spells them (after trimming), so [`as_str`](TargetStatus::as_str)
/// always returns the text the camera sent.
///
/// ```
/// use viewtron::{parse, Post, TargetStatus};
///
/// let xml = "<config version='1.7'><smartType>PEA</smartType><perimeter><perInfo>\
///            <item><targetId>3</targetId><status>SMART_START</status></item>\
///            </perInfo></perimeter></config>";
/// let Ok(Post::Event(event)) = parse(xml) else { panic!() };
/// let status = event.targets()[0].status.as_ref().unwrap();
/// assert_eq!(*status, TargetStatus::Start);
/// assert_eq!(status.as_str(), "SMART_START");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TargetStatus {
    /// `SMART_START`: the target triggered the rule; its event begins.
    Start,
    /// `SMART_PROCEDURE`: the event is in progress.
    Procedure,
    /// `SMART_STOP`: the event has ended.
    Stop,
    /// `SMART_NONE`: the camera gives no state.
    Unspecified,
    /// Any other value, exactly as sent.
    Other(String),
}

impl TargetStatus {
    /// Interprets a `status` value.
    ///
    /// ```
    /// use viewtron::TargetStatus;
    ///
    /// assert_eq!(TargetStatus::from_code(" SMART_STOP "), TargetStatus::Stop);
    /// assert_eq!(TargetStatus::from_code("SMART_NONE"), TargetStatus::Unspecified);
    /// assert_eq!(TargetStatus::from_code("smart_stop"), TargetStatus::Other("smart_stop".into()));
    /// ```
    pub fn from_code(code: &str) -> TargetStatus {
        match code.trim() {
            "SMART_START" => TargetStatus::Start,
            "SMART_PROCEDURE" => TargetStatus::Procedure,
            "SMART_STOP" => TargetStatus::Stop,
            "SMART_NONE" => TargetStatus::Unspecified,
            other => TargetStatus::Other(other.to_owned()),
        }
    }

    /// The value as sent: `SMART_START`, `SMART_PROCEDURE`, `SMART_STOP`,
    /// `SMART_NONE`, or the other text. The JSON output uses it.
    ///
    /// ```
    /// assert_eq!(viewtron::TargetStatus::Procedure.as_str(), "SMART_PROCEDURE");
    /// ```
    pub fn as_str(&self) -> &str {
        match self {
            TargetStatus::Start => "SMART_START",
            TargetStatus::Procedure => "SMART_PROCEDURE",
            TargetStatus::Stop => "SMART_STOP",
            TargetStatus::Unspecified => "SMART_NONE",
            TargetStatus::Other(s) => s,
        }
    }
}

impl fmt::Display for TargetStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One detected or tracked object.
///
/// Events carry every target, not only the first: the rule part of a post
/// (v1 `perInfo`/`tripInfo`, v2 `eventInfo`) and its image part (v1 `listInfo`,
/// v2 `targetListInfo`) are joined by `targetId`.
///
/// ```
/// use viewtron::{parse, Post, TargetType};
///
/// let xml = "<config version=\"2.0.0\"><messageType>alarmData</messageType>\
///   <smartType>regionIntrusion</smartType>\
///   <eventInfo><item><eventId>9</eventId><targetId>4</targetId>\
///   <rect><x1>1</x1><y1>2</y1><x2>3</x2><y2>4</y2></rect></item></eventInfo>\
///   <targetListInfo><item><targetId>4</targetId><targetType>car</targetType></item></targetListInfo>\
///   </config>";
/// let Ok(Post::Event(event)) = parse(xml) else { panic!() };
/// let target = &event.targets()[0];
/// assert_eq!((target.id, target.event_id), (Some(4), Some(9)));
/// assert_eq!(target.kind, Some(TargetType::Car));
/// assert_eq!(target.rect.unwrap().x2, 3);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Target {
    /// `targetId`: the camera's tracking id for this object.
    pub id: Option<u64>,
    /// `eventId`: the rule-trigger id.
    pub event_id: Option<u64>,
    /// Object kind.
    pub kind: Option<TargetType>,
    /// The rule state (`status`): start, procedure, stop or none.
    pub status: Option<TargetStatus>,
    /// Bounding box.
    pub rect: Option<Rect>,
    /// The rule's zone or line.
    pub region: Option<Region>,
    /// Traject only: the tracked point.
    pub point: Option<Point>,
    /// Traject only: `velocity` as sent.
    pub velocity: Option<String>,
    /// Traject only: `direction` as sent.
    pub direction: Option<String>,
    /// The crop of this target, if the camera sent one.
    pub image: Option<Image>,
}

impl PartialEq for Image {
    fn eq(&self, other: &Self) -> bool {
        self.base64() == other.base64()
            && self.width() == other.width()
            && self.height() == other.height()
    }
}

/// Travel direction of a vehicle relative to an LPR camera.
///
/// ```
/// use viewtron::Direction;
///
/// assert_eq!(Direction::from_code("leave"), Direction::Away);
/// assert_eq!(Direction::Approach.to_string(), "approach");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Direction {
    /// Coming towards the camera (`approach`).
    Approach,
    /// Moving away (`away`, also sent as `leave`).
    Away,
    /// Any other value, as sent.
    Other(String),
}

impl Direction {
    /// Interprets a `vehicleDirect` value, case-insensitively.
    ///
    /// ```
    /// assert_eq!(viewtron::Direction::from_code("AWAY"), viewtron::Direction::Away);
    /// ```
    pub fn from_code(code: &str) -> Direction {
        let code = code.trim();
        if code.eq_ignore_ascii_case("approach") {
            Direction::Approach
        } else if code.eq_ignore_ascii_case("away") || code.eq_ignore_ascii_case("leave") {
            Direction::Away
        } else {
            Direction::Other(code.to_owned())
        }
    }

    /// `approach`, `away`, or the value as sent.
    ///
    /// ```
    /// assert_eq!(viewtron::Direction::Away.as_str(), "away");
    /// ```
    pub fn as_str(&self) -> &str {
        match self {
            Direction::Approach => "approach",
            Direction::Away => "away",
            Direction::Other(s) => s,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A recognised licence plate.
///
/// ```
/// use viewtron::{parse, Post};
///
/// let xml = "<config version=\"1.7\"><smartType>VEHICE</smartType><listInfo>\
///   <item><plateNumber>KX42 ABC</plateNumber><vehicleListType>blackList</vehicleListType>\
///   <vehicleDirect>leave</vehicleDirect><PlateConfidence count=\"9725\"/></item>\
///   </listInfo></config>";
/// let Ok(Post::Event(event)) = parse(xml) else { panic!() };
/// let plate = event.plate().unwrap();
/// assert_eq!(plate.number.as_deref(), Some("KX42 ABC"));
/// assert_eq!(plate.group.as_deref(), Some("blackList"));
/// assert_eq!(plate.direction, Some(viewtron::Direction::Away));
/// assert_eq!(plate.confidence, Some(97.25));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Plate {
    /// The plate text.
    pub number: Option<String>,
    /// List / group: v1 `vehicleListType` (`whiteList`, `blackList`, …),
    /// v2 `licensePlateMatchInfo/groupName`. `None`: not in the database.
    pub group: Option<String>,
    /// Plate colour.
    pub color: Option<String>,
    /// Travel direction.
    pub direction: Option<Direction>,
    /// Recognition confidence in percent (`count="9725"` → 97.25).
    pub confidence: Option<f32>,
    /// Owner recorded in the NVR's plate database (v2 `carOwner`).
    pub owner: Option<String>,
    /// The plate crop.
    pub image: Option<Image>,
    /// Attributes of the vehicle carrying the plate.
    pub vehicle: Option<Vehicle>,
}

/// Vehicle attributes reported with a plate (v1 `carAttr`, v2 `carAttribute`).
///
/// ```
/// use viewtron::{parse, Post};
///
/// let xml = "<config version=\"2.0.0\"><messageType>alarmData</messageType>\
///   <smartType>vehicle</smartType><licensePlateListInfo><item>\
///   <carAttribute><carType>suv</carType><color>red</color></carAttribute>\
///   </item></licensePlateListInfo></config>";
/// let Ok(Post::Event(event)) = parse(xml) else { panic!() };
/// let vehicle = event.vehicle().unwrap();
/// assert_eq!(vehicle.kind.as_deref(), Some("suv"));
/// assert_eq!(vehicle.color.as_deref(), Some("red"));
/// assert_eq!(vehicle.brand, None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Vehicle {
    /// Vehicle type (`sedan`, `suv`, `mpv`, …).
    pub kind: Option<String>,
    /// Body colour.
    pub color: Option<String>,
    /// Brand.
    pub brand: Option<String>,
    /// Model.
    pub model: Option<String>,
}

/// A detected face and its attributes (attributes are v2 only).
///
/// ```
/// use viewtron::{parse, Post};
///
/// let xml = "<config version=\"2.0.0\"><messageType>alarmData</messageType>\
///   <smartType>videoFaceDetect</smartType><faceListInfo>\
///   <item><targetId>1</targetId><age>young</age><sex>female</sex></item>\
///   <item><targetId>2</targetId><mask>yes</mask></item>\
///   </faceListInfo></config>";
/// let Ok(Post::Event(event)) = parse(xml) else { panic!() };
/// assert_eq!(event.faces().len(), 2);
/// assert_eq!(event.faces()[0].sex.as_deref(), Some("female"));
/// assert_eq!(event.faces()[1].mask.as_deref(), Some("yes"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Face {
    /// The face's `targetId`.
    pub id: Option<u64>,
    /// Face box.
    pub rect: Option<Rect>,
    /// Age bracket (`young`, `middleAged`, …).
    pub age: Option<String>,
    /// Sex.
    pub sex: Option<String>,
    /// Glasses.
    pub glasses: Option<String>,
    /// Mask.
    pub mask: Option<String>,
    /// The face crop.
    pub image: Option<Image>,
}
