//! The parser: a post body in, a typed [`Post`] out.
//!
//! Routing follows the wire protocol: an empty body or a `<DeviceInfo>`
//! document is a keepalive; a `<config>` whose `version` starts with `2` uses
//! the NVR (v2) layout and its `messageType`; everything else the IP camera
//! (v1) layout. `smartType` is matched case-insensitively.

mod skeleton;
mod time;
mod v1;
mod v2;
mod xml;

use std::cell::Cell;

use roxmltree::{Document, Node, ParsingOptions};

use crate::event::{
    AlarmStatus, Category, Device, Event, EventData, Format, Keepalive, Post, Unrecognized,
    UnrecognizedReason,
};
use crate::limits::MAX_XML_NODES;
use crate::Body;
use xml::{child, children, string_any, text, Ctx};

/// Why a body could not be read as XML at all.
///
/// ```
/// let err = viewtron::parse("<config><smartType>VFD</config>").unwrap_err();
/// assert!(matches!(err, viewtron::ParseError::Xml { line: 1, .. }));
/// assert!(err.to_string().contains("line 1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is not valid UTF-8.
    #[error("post body is not valid UTF-8 (first bad byte at offset {offset})")]
    Utf8 {
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// The body is not well-formed XML, or uses a DTD (refused, so entity
    /// expansion can never blow up).
    #[error("malformed XML at line {line}, column {column}: {message}")]
    Xml {
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What the XML parser reported.
        message: String,
    },
}

/// Parses one camera post.
///
/// Pass an owned `Vec<u8>` or `String` to avoid copying the body: the
/// returned event shares it and its images point into it. Borrowed input is
/// copied once.
///
/// ```
/// use viewtron::{parse, Category, Post};
///
/// let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
/// <config version="1.7" xmlns="http://www.ipc.com/ver10">
///   <smartType type="openAlramObj">VEHICE</smartType>
///   <currentTime type="tint64">1732045234584193</currentTime>
///   <listInfo type="list" count="1"><item>
///     <plateNumber type="string"><![CDATA[ZX 81]]></plateNumber>
///     <vehicleListType type="string">whiteList</vehicleListType>
///   </item></listInfo>
/// </config>"#;
/// match parse(xml.to_string())? {
///     Post::Event(event) => {
///         assert_eq!(event.category(), Category::Lpr);
///         assert_eq!(event.plate_number(), Some("ZX 81"));
///         assert_eq!(event.plate_group(), Some("whiteList"));
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// # Ok::<(), viewtron::ParseError>(())
/// ```
pub fn parse(body: impl Into<Body>) -> Result<Post, ParseError> {
    thread_local! {
        /// This thread's skeleton buffer: a skeleton lives only while its
        /// post is parsed, so the next post reuses the allocation.
        static BUFFER: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    }
    let body = body.into();
    // Image payloads, indentation and type annotations are left out first
    // (see `skeleton`); with nothing to leave out, the body itself is parsed.
    let skeleton = skeleton::lift(body.as_bytes(), BUFFER.take());
    let post = parse_skeleton(&body, &skeleton);
    let buffer = skeleton.into_buffer();
    if buffer.capacity() <= skeleton::MAX_KEPT {
        BUFFER.set(buffer);
    }
    post
}

fn parse_skeleton(body: &Body, skeleton: &skeleton::Skeleton) -> Result<Post, ParseError> {
    let bytes = body.as_bytes();
    let source = if skeleton.text.is_empty() {
        bytes
    } else {
        &skeleton.text
    };
    let input = std::str::from_utf8(source).map_err(|_| ParseError::Utf8 {
        offset: std::str::from_utf8(bytes)
            .err()
            .map_or(0, |e| e.valid_up_to()),
    })?;
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    // Only an empty body is a keepalive; a skeleton is also blank when its
    // body is a declaration and nothing else (cut short), which is an error.
    if input.trim().is_empty() && (skeleton.text.is_empty() || is_blank(bytes)) {
        return Ok(Post::Keepalive(Keepalive::default()));
    }
    let doc = Document::parse_with_options(input, options()).map_err(|e| {
        // Positions refer to the whole body: on error, parse it to find them.
        let full = std::str::from_utf8(bytes)
            .ok()
            .filter(|_| !skeleton.text.is_empty());
        match full.map(|f| (f, Document::parse_with_options(f, options()))) {
            Some((f, Err(e))) => xml_error(f, e),
            _ => xml_error(input, e),
        }
    })?;
    let ctx = Ctx { body, skeleton };
    Ok(route(&ctx, doc.root_element()))
}

/// Whether `bytes` is white space only, after a byte order mark.
fn is_blank(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes)
        .is_ok_and(|s| s.strip_prefix('\u{feff}').unwrap_or(s).trim().is_empty())
}

fn options<'a>() -> ParsingOptions<'a> {
    ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_XML_NODES,
        ..ParsingOptions::default()
    }
}

fn xml_error(input: &str, e: roxmltree::Error) -> ParseError {
    let (line, column) = match e {
        // roxmltree gives no position for a refused DTD: point at it.
        roxmltree::Error::DtdDetected => position_of(input, "<!DOCTYPE"),
        _ => (e.pos().row, e.pos().col),
    };
    ParseError::Xml {
        line,
        column,
        message: e.to_string(),
    }
}

/// 1-based line and column (in characters) of the first `needle`, or 1:1.
fn position_of(input: &str, needle: &str) -> (u32, u32) {
    let Some(at) = input.find(needle) else {
        return (1, 1);
    };
    let before = &input[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line as u32, column as u32)
}

fn route(ctx: &Ctx, root: Node) -> Post {
    let name = root.tag_name().name();
    if name.eq_ignore_ascii_case("DeviceInfo") {
        return Post::Keepalive(Keepalive {
            device: device_info(root),
            format: None,
        });
    }
    if name != "config" {
        return unrecognized(ctx, UnrecognizedReason::NotViewtron, None);
    }
    let version = root.attribute("version").unwrap_or("").trim();
    let format = if version.starts_with('2') {
        Format::V2
    } else {
        Format::V1
    };
    let smart_type = child(root, "smartType").and_then(text);
    match child(root, "messageType").and_then(text) {
        Some(m) if m.eq_ignore_ascii_case("keepalive") => Post::Keepalive(Keepalive {
            device: device(root),
            format: Some(format),
        }),
        Some(m) if m.eq_ignore_ascii_case("alarmStatus") => alarm_status(root, format),
        Some(m) if m.eq_ignore_ascii_case("alarmData") => event(ctx, root, format, version, false),
        Some(_) => unrecognized(ctx, UnrecognizedReason::UnknownMessageType, smart_type),
        None if child(root, "alarmStatusInfo").is_some() => alarm_status(root, format),
        None if format == Format::V1 => event(ctx, root, format, version, false),
        None if smart_type.is_some_and(|s| v1::lookup(s).is_some()) => {
            // Defensive routing: an IP camera code in a 2.x post without
            // `messageType` is parsed with the v1 layout.
            event(ctx, root, format, version, true)
        }
        None => unrecognized(ctx, UnrecognizedReason::NoMessageType, smart_type),
    }
}

/// Builds an event from a `<config>` root; tracking posts have no `smartType`.
fn event(ctx: &Ctx, root: Node, format: Format, version: &str, v1_layout: bool) -> Post {
    let smart_type = child(root, "smartType").and_then(text);
    let mut data = EventData {
        body: ctx.body.clone(),
        category: Category::Traject,
        alarm_type: smart_type.unwrap_or("traject").to_owned(),
        description: "Smart Tracking",
        format,
        config_version: version.to_owned(),
        device: device(root),
        time_us: child(root, "currentTime")
            .and_then(text)
            .and_then(time::normalise),
        targets: Vec::new(),
        plates: Vec::new(),
        faces: Vec::new(),
        source_image: None,
    };
    let Some(smart_type) = smart_type else {
        return match child(root, "traject") {
            Some(traject) => {
                v1::traject(&mut data, traject);
                Post::Event(Event::new(data))
            }
            None => unrecognized(ctx, UnrecognizedReason::UnknownSmartType, None),
        };
    };
    // v2 tables first for NVR posts; `VEHICLE` there is the NVR vehicle type
    // only when the NVR plate list is present.
    let v2_type = (format == Format::V2 && !v1_layout)
        .then(|| v2::lookup(smart_type))
        .flatten()
        .filter(|t| {
            *t != v2::NvrSmartType::Vehicle || child(root, "licensePlateListInfo").is_some()
        });
    if let Some(smart) = v2_type {
        let (category, description) = smart.describe();
        data.category = category;
        data.description = description;
        v2::fill(ctx, &mut data, root, smart);
        return Post::Event(Event::new(data));
    }
    match v1::lookup(smart_type) {
        Some(smart) => {
            let (category, description) = smart.describe();
            data.category = category;
            data.description = description;
            v1::fill(ctx, &mut data, root, smart);
            Post::Event(Event::new(data))
        }
        None => {
            let mut u =
                unrecognized_post(ctx, UnrecognizedReason::UnknownSmartType, Some(smart_type));
            u.description = v1::unsupported_description(smart_type);
            Post::Unrecognized(u)
        }
    }
}

fn alarm_status(root: Node, format: Format) -> Post {
    let mut alarms = Vec::new();
    if let Some(info) = child(root, "alarmStatusInfo") {
        for field in info.children().filter(Node::is_element) {
            let name = field.tag_name().name().to_owned();
            let items: Vec<Node> = children(field, "item").collect();
            if items.is_empty() {
                alarms.push(alarm(name, field));
            } else {
                alarms.extend(items.into_iter().map(|item| alarm(name.clone(), item)));
            }
        }
    }
    Post::AlarmStatus(AlarmStatus {
        alarms,
        device: device(root),
        format,
        time_us: child(root, "currentTime")
            .and_then(text)
            .and_then(time::normalise),
        time_text: string_any(root, &["dataTime", "dateTime"]),
    })
}

fn alarm(name: String, node: Node) -> crate::event::Alarm {
    crate::event::Alarm {
        name,
        id: node.attribute("id").map(str::to_owned),
        active: text(node).is_some_and(|t| t.eq_ignore_ascii_case("true") || t == "1"),
    }
}

/// Device fields of a `<config>`: direct children (v1) then `deviceInfo` (v2,
/// alarm status), the latter winning where both are present.
fn device(root: Node) -> Device {
    let mut d = device_info(root);
    if let Some(info) = child(root, "deviceInfo") {
        let inner = device_info(info);
        d.name = inner.name.or(d.name);
        d.ip = inner.ip.or(d.ip);
        d.mac = inner.mac.or(d.mac);
        d.serial = inner.serial.or(d.serial);
        d.channel = inner.channel.or(d.channel);
    }
    d
}

/// Device fields directly under `node`, whatever their spelling.
fn device_info(node: Node) -> Device {
    let [name, name2, ip, ip2, ip3, mac, mac2, mac3, sn, sn2, ch, ch2, ch3] = xml::pick(
        node,
        [
            "deviceName",
            "DeviceName",
            "ip",
            "ipAddress",
            "IpAddress",
            "mac",
            "macAddress",
            "MacAddress",
            "sn",
            "SN",
            "channelId",
            "deviceNo.",
            "DeviceNo.",
        ],
    );
    let first = |nodes: &[Option<Node>]| nodes.iter().find_map(|n| xml::owned(*n));
    Device {
        name: first(&[name, name2]),
        ip: first(&[ip, ip2, ip3]),
        mac: first(&[mac, mac2, mac3]),
        serial: first(&[sn, sn2]),
        channel: [ch, ch2, ch3]
            .iter()
            .find_map(|n| n.and_then(text))
            .and_then(|t| t.parse().ok()),
    }
}

fn unrecognized_post(
    ctx: &Ctx,
    reason: UnrecognizedReason,
    smart_type: Option<&str>,
) -> Unrecognized {
    Unrecognized {
        reason,
        smart_type: smart_type.map(str::to_owned),
        description: None,
        body: ctx.body.clone(),
    }
}

fn unrecognized(ctx: &Ctx, reason: UnrecognizedReason, smart_type: Option<&str>) -> Post {
    Post::Unrecognized(unrecognized_post(ctx, reason, smart_type))
}
