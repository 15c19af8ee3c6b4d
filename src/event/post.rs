//! What a post is: an event, a keepalive, an alarm status, or unrecognized.

use std::fmt;

use super::{Device, Event, Format};
use crate::Body;

/// The result of parsing one camera post.
///
/// ```
/// use viewtron::{parse, Post};
///
/// match parse("")? {
///     Post::Keepalive(_) => {} // an empty body is a heartbeat
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), viewtron::ParseError>(())
/// ```
///
/// New kinds of post may be added in minor releases, so a `match` needs a
/// `_` arm.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
#[non_exhaustive]
pub enum Post {
    /// A detection: plate, faces, intrusion, counting, metadata or tracking.
    Event(Event),
    /// A heartbeat, with whatever device information it carried.
    Keepalive(Keepalive),
    /// An alarm switched on or off.
    AlarmStatus(AlarmStatus),
    /// A well-formed document this library does not turn into an event.
    Unrecognized(Unrecognized),
}

impl Post {
    /// The kind as used in the JSON output: `event`, `keepalive`,
    /// `alarm_status` or `unrecognized`.
    ///
    /// ```
    /// assert_eq!(viewtron::parse("")?.kind(), "keepalive");
    /// # Ok::<(), viewtron::ParseError>(())
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Post::Event(_) => "event",
            Post::Keepalive(_) => "keepalive",
            Post::AlarmStatus(_) => "alarm_status",
            Post::Unrecognized(_) => "unrecognized",
        }
    }

    /// The device information the post carried, if any.
    ///
    /// ```
    /// let post = viewtron::parse("<DeviceInfo><DeviceName>Lobby</DeviceName></DeviceInfo>")?;
    /// assert_eq!(post.device().unwrap().name.as_deref(), Some("Lobby"));
    /// # Ok::<(), viewtron::ParseError>(())
    /// ```
    pub fn device(&self) -> Option<&Device> {
        match self {
            Post::Event(e) => Some(e.device()),
            Post::Keepalive(k) => Some(&k.device),
            Post::AlarmStatus(a) => Some(&a.device),
            Post::Unrecognized(_) => None,
        }
    }
}

/// A heartbeat: an empty POST, a `<DeviceInfo>` document, or a
/// `<messageType>keepalive</messageType>` config.
///
/// ```
/// let viewtron::Post::Keepalive(k) = viewtron::parse("")? else { panic!() };
/// assert_eq!(k.device, viewtron::Device::default());
/// assert_eq!(k.format, None);
/// # Ok::<(), viewtron::ParseError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Keepalive {
    /// Device information, empty for an empty-body heartbeat.
    pub device: Device,
    /// The layout family, when the heartbeat was a `<config>` document.
    pub format: Option<Format>,
}

/// One alarm in an [`AlarmStatus`] post.
///
/// ```
/// let xml = "<config version='1.7'><alarmStatusInfo>\
///            <perimeterAlarm id='2'>false</perimeterAlarm></alarmStatusInfo></config>";
/// let viewtron::Post::AlarmStatus(status) = viewtron::parse(xml)? else { panic!() };
/// let alarm = &status.alarms[0];
/// assert_eq!((alarm.name.as_str(), alarm.id.as_deref()), ("perimeterAlarm", Some("2")));
/// assert!(!alarm.active);
/// # Ok::<(), viewtron::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Alarm {
    /// The element name: `perimeterAlarm`, `vfdAlarm`, `chlOfflineAlarm`, …
    pub name: String,
    /// The rule id (`id` attribute), as sent.
    pub id: Option<String>,
    /// `true` when the alarm went on, `false` when its hold time expired.
    pub active: bool,
}

/// An alarm went on or off (`<alarmStatusInfo>`). Never an [`Event`].
///
/// ```
/// let xml = r#"<config version="2.0.0"><messageType>alarmStatus</messageType>
///   <currentTime>1772056914000000</currentTime>
///   <alarmStatusInfo><perimeterAlarm><item id="1">true</item></perimeterAlarm></alarmStatusInfo>
/// </config>"#;
/// let viewtron::Post::AlarmStatus(status) = viewtron::parse(xml)? else { panic!() };
/// assert_eq!(status.alarms[0].name, "perimeterAlarm");
/// assert_eq!(status.alarms[0].id.as_deref(), Some("1"));
/// assert!(status.alarms[0].active);
/// assert_eq!(status.time_us, Some(1_772_056_914_000_000));
/// # Ok::<(), viewtron::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AlarmStatus {
    /// Every alarm listed, in order.
    pub alarms: Vec<Alarm>,
    /// The sending device.
    pub device: Device,
    /// Layout family.
    pub format: Format,
    /// `currentTime` (NVR), normalised to µs since the epoch.
    pub time_us: Option<u64>,
    /// `dataTime` text (IP camera), in the camera's local time, as sent
    /// (`2026-03-29 09:58:21` or `11-19-2025 12:15:11 PM`).
    pub time_text: Option<String>,
}

/// Why a well-formed post was not turned into an event. `Display` gives the
/// Python SDK's reason strings.
///
/// ```
/// use viewtron::UnrecognizedReason;
///
/// assert_eq!(UnrecognizedReason::NoMessageType.to_string(), "no-messageType");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnrecognizedReason {
    /// A `smartType` with no event class (`MOTION`, `FIRE`, …) or none at all.
    UnknownSmartType,
    /// A v2 post without `messageType` and without an IP camera `smartType`.
    NoMessageType,
    /// A `messageType` other than `keepalive`, `alarmStatus`, `alarmData`.
    UnknownMessageType,
    /// Well-formed XML that is not a Viewtron document.
    NotViewtron,
}

impl UnrecognizedReason {
    /// `unknown-smartType`, `no-messageType`, `unknown-messageType` or `not-viewtron`.
    ///
    /// ```
    /// assert_eq!(viewtron::UnrecognizedReason::UnknownSmartType.as_str(), "unknown-smartType");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            UnrecognizedReason::UnknownSmartType => "unknown-smartType",
            UnrecognizedReason::NoMessageType => "no-messageType",
            UnrecognizedReason::UnknownMessageType => "unknown-messageType",
            UnrecognizedReason::NotViewtron => "not-viewtron",
        }
    }
}

impl fmt::Display for UnrecognizedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A post that parsed as XML but is not an event, keepalive or alarm status.
///
/// Like an [`Event`], it shares the post body (see [`body`](Unrecognized::body)).
///
/// ```
/// let xml = "<config version='1.7'><smartType>MOTION</smartType></config>";
/// let viewtron::Post::Unrecognized(u) = viewtron::parse(xml)? else { panic!() };
/// assert_eq!(u.reason, viewtron::UnrecognizedReason::UnknownSmartType);
/// assert_eq!(u.smart_type.as_deref(), Some("MOTION"));
/// assert_eq!(u.description, Some("Motion Detection"));
/// assert_eq!(u.body().as_str(), Some(xml));
/// # Ok::<(), viewtron::ParseError>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Unrecognized {
    /// Why it was not recognised.
    pub reason: UnrecognizedReason,
    /// The `smartType` text, if there was one.
    pub smart_type: Option<String>,
    /// The SDK's description of a known but unsupported `smartType`.
    pub description: Option<&'static str>,
    /// The post body, shared (read it with [`body`](Unrecognized::body)).
    pub(crate) body: Body,
}

impl Unrecognized {
    /// The whole post body (shared, not copied), as [`Event::body`] gives
    /// an event's.
    ///
    /// ```
    /// let xml = "<weather><rain/></weather>";
    /// let viewtron::Post::Unrecognized(u) = viewtron::parse(xml)? else { panic!() };
    /// assert_eq!(u.reason, viewtron::UnrecognizedReason::NotViewtron);
    /// assert_eq!(u.body().as_bytes(), xml.as_bytes());
    /// # Ok::<(), viewtron::ParseError>(())
    /// ```
    pub fn body(&self) -> &Body {
        &self.body
    }
}
