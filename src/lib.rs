//! Receive the webhook events of Viewtron IP cameras and NVRs as typed Rust
//! values: licence plates, faces, intrusions, line crossings, counting and
//! tracking.
//!
//! The crate has two halves:
//!
//! * the **parser** — [`parse`] turns one HTTP POST body into a [`Post`]:
//!   an [`Event`], a [`Keepalive`], an [`AlarmStatus`] or [`Unrecognized`];
//!   images stay spans of the body until you decode them;
//! * the **server** — a blocking, bounded thread pool that answers cameras
//!   and hands you events (see the server module docs once it lands).
//!
//! # Parsing a post
//!
//! ```
//! use viewtron::{parse, Category, Post};
//!
//! let body = br#"<config version="2.0.0" xmlns="http://www.ipc.com/ver10">
//!   <messageType>alarmData</messageType>
//!   <deviceInfo><deviceName><![CDATA[Gate]]></deviceName><channelId>2</channelId></deviceInfo>
//!   <smartType>vehicle</smartType>
//!   <currentTime>1772210268473000</currentTime>
//!   <licensePlateListInfo><item>
//!     <targetId>7</targetId>
//!     <licensePlateAttribute><licensePlateNumber>KT 4021</licensePlateNumber></licensePlateAttribute>
//!     <licensePlateMatchInfo><groupName>Staff</groupName></licensePlateMatchInfo>
//!   </item></licensePlateListInfo>
//! </config>"#;
//!
//! let Post::Event(event) = parse(body.to_vec())? else { panic!("not an event") };
//! assert_eq!(event.category(), Category::Lpr);
//! assert_eq!(event.description(), "License Plate Detection");
//! assert_eq!(event.plate_number(), Some("KT 4021"));
//! assert_eq!(event.plate_group(), Some("Staff"));
//! assert_eq!(event.device_name(), Some("Gate"));
//! # Ok::<(), viewtron::ParseError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod body;
mod event;
mod image;
#[cfg(feature = "serde")]
mod json;
mod parse;
mod server;

pub use body::Body;
pub use event::{
    Alarm, AlarmStatus, Category, Device, Direction, Event, Face, Format, Keepalive, Plate, Point,
    Post, Rect, Region, Target, TargetType, Unrecognized, UnrecognizedReason, Vehicle,
};
pub use image::{Image, ImageError};
pub use parse::{parse, ParseError};
pub use server::{
    BuildError, Camera, Cidr, CidrError, Events, Overflow, Server, ServerBuilder, ShutdownHandle,
    Stats, UnparsedReason,
};

/// The README's examples, compiled and run as doctests so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
