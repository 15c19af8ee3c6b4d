//! Receive the webhook events of Viewtron IP cameras and NVRs as typed Rust
//! values: licence plates, faces, intrusions, line crossings, counting and
//! tracking.
//!
//! The crate has two halves:
//!
//! * the **parser** — [`parse`] turns one HTTP POST body into a [`Post`]:
//!   an [`Event`], a [`Keepalive`], an [`AlarmStatus`] or [`Unrecognized`];
//!   images stay spans of the body until you decode them;
//! * the **server** — [`Server`], a blocking, bounded thread pool that
//!   answers cameras the way they need and hands you events through
//!   callbacks or the [`events`](Server::events) iterator.
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
//!
//! # Serving cameras
//!
//! Build a server, then either block in [`Server::serve_forever`] with
//! callbacks, or iterate [`Server::events`]. Here a "camera" on the same
//! machine posts one event, and the loop ends once the server is shut down:
//!
//! ```
//! use std::io::{Read, Write};
//! use viewtron::{Category, Server};
//!
//! let server = Server::builder().bind("127.0.0.1".parse().unwrap()).port(0).build()?;
//! let events = server.events();
//!
//! let body = "<config version=\"1.7\"><smartType>PEA</smartType></config>";
//! let mut camera = std::net::TcpStream::connect(server.local_addr()).unwrap();
//! write!(camera, "POST /API HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
//! let mut answer = [0u8; 12];
//! camera.read_exact(&mut answer).unwrap();
//! assert_eq!(&answer, b"HTTP/1.1 200");
//!
//! server.shutdown();
//! let received: Vec<_> = events.collect(); // ends after shutdown, once drained
//! assert_eq!(received.len(), 1);
//! assert_eq!(received[0].category(), Category::Intrusion);
//! # Ok::<(), viewtron::BuildError>(())
//! ```
//!
//! Configuration goes through [`ServerBuilder`]: port and address, workers,
//! channel capacity and [`Overflow`] policy, accepted paths, body limit, read
//! timeout, HTTP Basic credentials and a source allowlist ([`Cidr`]). The
//! limits no builder method changes are constants in [`limits`]; the
//! README's "Limits and guarantees" lists every limit and what tiny_http
//! leaves exposed.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, missing_debug_implementations)]

mod body;
mod event;
mod image;
#[cfg(feature = "serde")]
mod json;
pub mod limits;
mod parse;
mod server;

pub use body::Body;
pub use event::{
    Alarm, AlarmStatus, Category, Device, Direction, Event, Face, Format, Keepalive, Plate, Point,
    Post, Rect, Region, Target, TargetStatus, TargetType, Unrecognized, UnrecognizedReason,
    Vehicle,
};
pub use image::{Image, ImageError};
pub use parse::{parse, ParseError};
pub use server::{
    BuildError, Camera, Cidr, CidrError, Events, Overflow, Page, RecvTimeoutError, Server,
    ServerBuilder, ShutdownHandle, Stats, TryRecvError, UnparsedReason,
};

/// The README's examples, compiled and run as doctests so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
