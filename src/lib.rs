//! Receive the webhook events of Viewtron IP cameras and NVRs as typed Rust
//! values: licence plates, faces, intrusions, line crossings, counting and
//! tracking.
//!
//! The crate has two halves:
//!
//! * the **parser** — [`parse()`] turns one HTTP POST body into a [`Post`]:
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
//! limits no builder method changes are constants in [`limits`]; every limit
//! is listed under [Limits and guarantees](#limits-and-guarantees).
//!
//! # How the server works
//!
//! A tiny_http acceptor feeds a pool of worker threads. Everything that
//! works around tiny_http 0.12 (its pool, its accept loop, connections it
//! cannot close, bodies it cannot time out) sits behind one transport
//! boundary in the source (`src/server/transport/`, whose module docs list
//! each repair and its test); what it did is in [`TransportStats`]. Each
//! worker takes a request, reads its body, **answers the camera first** (`200`, the success
//! XML, one write), then parses and delivers. A slow callback never delays a
//! camera's answer, and one worker stuck in a callback never stops the others.
//! While clients hold workers with slow bodies, spare workers are started so
//! that the configured number stay free (up to
//! [`max_workers`](ServerBuilder::max_workers)); no address may have more than
//! [`max_per_address`](ServerBuilder::max_per_address) requests in progress,
//! and every body has a deadline ([`body_timeout`](ServerBuilder::body_timeout)).
//!
//! - **Callbacks** (`Fn(...) + Send + Sync + 'static`, run on worker threads):
//!   `on_event(Event, IpAddr)` for events (never keepalives or alarm statuses);
//!   `on_connect(IpAddr)` once per camera IP on its first contact of any kind
//!   (the SDK waits for a heartbeat the camera may never send);
//!   `on_raw(&str, IpAddr)` for every non-empty body except tracking posts;
//!   `on_unparsed(&str, IpAddr, &UnparsedReason)` for unknown `smartType`s,
//!   missing `messageType`, malformed XML, and alarm statuses unless
//!   `on_alarm_status(AlarmStatus, IpAddr)` is set. A panicking callback is
//!   caught, logged and counted; the worker and the connection carry on.
//! - **Callbacks and `events()`**: events go to the channel when no `on_event`
//!   is set, or to both with `.channel(true)` (callback first). The channel is
//!   bounded (`.channel_capacity(n)`, default 256). With the default
//!   `Overflow::Block` a full channel makes workers wait for you (nothing is
//!   lost, memory stays bounded); `Overflow::DropTraject` / `DropNewest` drop
//!   instead and count each drop.
//! - **Order**: posts of one connection are answered in order, and each
//!   camera's posts (one address, or one `X-Forwarded-For` camera) reach
//!   the callbacks and the channel one at a time, in the order their bodies
//!   arrived; different cameras' posts are delivered in parallel, in no
//!   particular order between them. The wait for that order comes after the
//!   answer: it never delays a camera.
//! - **Shutdown**: `server.shutdown()` or a cloneable `ShutdownHandle` from any
//!   thread. The server stops listening at once (new connections are refused);
//!   workers answer and deliver every request already received, then stop;
//!   `serve_forever()` returns within a second even with idle camera
//!   connections open, and `events()` ends once drained. Connections still open
//!   afterwards are not closed by tiny_http: posts sent on them get no answer,
//!   and the camera reconnects to whatever listens next.
//! - **Stats**: `server.stats()` counts requests, events by category,
//!   keepalives, alarm statuses, unrecognized posts, parse errors, callback
//!   panics, drops, bytes, refusals by reason and requests in progress,
//!   lists the cameras seen (IP, first and last seen, last device name), and
//!   in [`Stats::transport`] what the transport's repairs did (parked
//!   connections, accept loop restarts) and which protections are active.
//!   `.page("/metrics", |stats| Page::metrics(stats.prometheus()))` answers a
//!   `GET` path from a fresh snapshot (Prometheus text from `Stats::prometheus`,
//!   or a health check); pages sit behind the allowlist like posts.
//! - **HTTP**: POSTs in origin or absolute form (`POST http://host:port/API`, as
//!   NVRs send), keep-alive and `Connection: close`, HTTP/1.0, chunked bodies,
//!   `Expect: 100-continue`, pipelining, `application/xml` or
//!   `application/soap+xml`. An empty POST is a keepalive (a chunked one is not).
//!   `GET` answers `Viewtron event server running`; other methods get `405`.
//! - **Logging** goes through the `log` crate; install any logger to see it.
//!   The library prints nothing but `serve_forever`'s banner.
//!
//! The seed's patterns in Rust are the examples: `route_by_category`,
//! `save_images`, `background_thread`, `events_iter`, `shared_state`.
//!
//! # Limits and guarantees
//!
//! The server sits on networks where anything can connect. Every limit has a
//! safe default, a builder method and a `listen` flag; every refusal is counted
//! in [`Stats::refused_by_reason`] by [`Refusal`] and logged at most once a second (with the
//! number of lines suppressed), so a flood cannot become a log flood.
//!
//! | defence | default | set with | what the client sees | proved by |
//! |---|---|---|---|---|
//! | body size | 16 MiB (≤ 1 GiB) | [`max_body`](ServerBuilder::max_body), `--max-body BYTES` | `413` before any body byte is read or allocated; a chunked body growing past it: `413` and the connection closed | `hostile::oversized_content_length_is_refused_without_reading`, `smuggling::a_chunked_body_past_the_limit_is_a_413_and_a_close` |
//! | read timeout | 150 s (above the 30–120 s heartbeat) | [`read_timeout`](ServerBuilder::read_timeout), `--read-timeout SECS` | a connection silent that long (stalled request line or header, dead peer, idle keep-alive) is closed | `hostile::stalled_headers_and_body_are_closed` |
//! | body deadline | 30 s (≥ 1 s) | [`body_timeout`](ServerBuilder::body_timeout), `--body-timeout SECS` | a body not complete this long after a worker took its head: `408`, `Connection: close`, connection closed, nothing delivered ([`Refusal::BodyTimeout`]). A trickled body is stopped at the first read after the deadline; a stalled one at the deadline itself (the server shuts the socket's reading side), or, where sockets cannot be reached, when its read returns, one read timeout after its last byte | `slow_clients::a_body_trickled_past_its_deadline_is_answered_408_and_never_delivered`, `a_stalled_body_is_cut_at_its_deadline_not_at_the_read_timeout` |
//! | requests in progress per address | 8 (≥ 1) | [`max_per_address`](ServerBuilder::max_per_address), `--max-per-address N` | a request from an address that already has 8 between "taken by a worker" and "answered": `429`, `Connection: close`, connection closed, body never read ([`Refusal::PerAddressCap`]); behind a trusted proxy each camera has its own | `slow_clients::one_address_gets_its_cap_of_requests_in_progress_and_no_more`, `requests_in_progress_are_counted_per_camera_behind_a_trusted_proxy`, `a_refused_trickler_never_holds_a_worker` |
//! | workers | `workers`: twice the cores, ≥ 4; `max_workers`: 128 | [`workers`](ServerBuilder::workers), [`max_workers`](ServerBuilder::max_workers), `--max-workers N` | while any body read has taken over 50 ms, spare workers are started so that `workers` stay free beyond those reading bodies, up to `max_workers`; spares end after 5 s idle. Under plain load none is started. Slow bodies from 256 or 1,024 connections on one address, or 64 on 16 addresses: a camera on another address answered in milliseconds, threads, descriptors and memory bounded (`docs/tiny_http.md`, "Slow clients") | `starvation::slow_bodies_on_256_connections_from_one_address_leave_other_cameras_served`, `…_64_connections_from_16_addresses_…`, `…_1024_connections_…` (run by `.ci/run`) |
//! | header block | 100 fields, 64 KiB | fixed: [`limits::MAX_HEADERS`], [`limits::MAX_HEADER_BYTES`] | `431` | `hostile::ten_thousand_headers_are_refused`, `a_100_mib_header_line_is_refused` |
//! | framing (request smuggling) | — | — | one `400` with `Connection: close`, never a `500`, for any method: conflicting or non-numeric `Content-Length`, both `Content-Length` and `Transfer-Encoding`, anything but a single `chunked` coding, `Transfer-Encoding` in HTTP/1.0, a bad chunk size or chunk line end; then the connection is closed and nothing sent after the refused head is ever answered or delivered (see `docs/tiny_http.md` in the repository, "Refused connections") | `smuggling::content_length_and_chunked_together_hide_a_post`, `two_content_lengths_hide_a_post`, `an_overflowing_chunk_size_is_a_400_not_a_500`, `stacked_transfer_codings_hide_a_post`, `an_unknown_coding_with_a_content_length_hides_a_post`, `a_non_numeric_content_length_hides_a_get`, `no_request_after_refused_framing_is_interpreted` and 8 more |
//! | incomplete bodies | — | — | a body cut short (peer stalls, half-closes or leaves mid-body): `400`, connection closed, nothing delivered | `smuggling::a_body_cut_short_is_a_400_and_a_close`, `hostile::client_vanishing_mid_body_delivers_nothing`, `content_length_shorter_and_longer_than_the_body` |
//! | authentication | off | [`basic_auth`](ServerBuilder::basic_auth)`(user, pass)`, `--user NAME --password PASS` or `--password-file PATH` | `401` with `WWW-Authenticate: Basic`, before the body is read; constant-time comparison; nothing delivered | `hostile::authentication_is_required_when_configured` |
//! | refused bodies | — | — | any refusal (`401`, `403`, `404`, `405`, `413`, `431`) of a request that has a body says `Connection: close` and closes the connection: the body is never read, so it can never be read as requests; a refused request without a body keeps its connection. A `GET` with a body is answered, then closed | `smuggling::an_unread_refused_body_is_never_read_as_requests`, `a_get_with_two_content_lengths_hides_a_post` |
//! | secrets | — | — | the Basic-auth password never appears in `Debug` (the user name does, the password as `***`), errors, `stats()` or the log; refusal logs show the request path only (no query string, no user info, no header) | `secrets::debug_shows_the_user_and_hides_the_password`, `the_log_never_shows_what_a_client_sent_as_credentials`, `listen_never_prints_the_password` |
//! | source allowlist | off (anyone) | [`allow`](ServerBuilder::allow)`(cidr)`, `--allow CIDR` (repeatable, v4 and v6) | `403` before the body is read (tiny_http itself reads bodies of up to 1 KiB with the head); nothing delivered | `hostile::allowlist_refuses_other_sources`, `forwarded::a_forged_address_does_not_pass_the_allowlist` |
//! | trusted proxies | none (`X-Forwarded-For` ignored) | [`trusted_proxies`](ServerBuilder::trusted_proxies)`(cidrs)`, `--trusted-proxy CIDR` (repeatable) | from a trusted peer, the camera's address is the right-most `X-Forwarded-For` entry that is not itself trusted, and callbacks, `on_connect`, the allowlist, `stats().cameras` and the log use it; from anyone else the header is ignored | `forwarded::a_client_forging_x_forwarded_for_is_known_by_its_own_address`, `behind_a_trusted_proxy_each_camera_is_known_by_its_own_address`; `deploy/nginx/test.sh` C1, C2 |
//! | XML | DTDs refused, 200,000 nodes | fixed: [`limits::MAX_XML_NODES`] | the post is answered `200`, then reported as a parse error: no entity expansion, nothing external fetched | `hostile::entity_bomb_is_a_parse_error` |
//! | accept loop | — | — | a dead tiny_http accept loop (EMFILE, or its silent `try_clone` panic) is noticed and rebuilt from the same socket; connections already open keep being served | `recovery::accept_loop_recovers_after_descriptor_exhaustion` (child under `prlimit --nofile=64`) |
//! | garbage, TLS, HTTP/2 | — | — | `400`/`505`/close; other cameras unaffected | `hostile::garbage_tls_and_http2_are_survived` |
//! | idle connections | — | — | 500 idle connections do not stop a new camera | `hostile::five_hundred_idle_connections` |
//!
//! The defaults are on each [`ServerBuilder`] method; the limits no method
//! changes are constants in [`limits`]. How refused connections are closed
//! although tiny_http 0.12 offers no way to, what that costs, and what tiny_http
//! still leaves exposed (with the nginx front that closes it): `docs/tiny_http.md`
//! in the repository.
//!
//! # Features and platforms
//!
//! - `server` (default): the webhook server. **Linux only**: its protections
//!   against hostile clients reach tiny_http's sockets through
//!   `/proc/self/fd` and use Linux socket flags, so on any other target the
//!   feature stops the build with a `compile_error!` that says so, rather
//!   than build a server that cannot close a refused connection. Containers
//!   are Linux: every protection holds there (see [`Protections`]).
//! - Without it (`default-features = false`), the crate is [`parse`](fn@crate::parse) and the
//!   event types alone, with no tiny_http, crossbeam-channel, socket2,
//!   rustix or httpdate, for use inside another HTTP framework, in tools or
//!   in fuzzers, on any platform (CI checks macOS and Windows targets).
//! - `serde`: the JSON shape below.
//!
//! Rust 1.80 or later (`rust-version`).
//!
//! # JSON output
//!
//! With the `serde` cargo feature, every parsed post ([`Post`], [`Event`],
//! [`Keepalive`], [`AlarmStatus`], [`Unrecognized`]) implements
//! `serde::Serialize`:
//!
//! ```toml
//! viewtron = { version = "0.2", features = ["serde"] }
//! ```
//!
//! ```
//! # #[cfg(feature = "serde")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let post = viewtron::parse(std::fs::read("tests/fixtures/v1-lpr-vehice.xml")?)?;
//! let line = serde_json::to_string(&post)?;
//! assert!(line.starts_with(r#"{"kind":"event","category":"lpr","alarm_type":"VEHICE""#));
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "serde"))]
//! # fn main() {}
//! ```
//!
//! The `dump` example does this for saved posts, one JSON object per line, and
//! `listen --json` for live ones (see `docs/examples.md` in the repository).
//!
//! ## Shape
//!
//! One flat object per post. Every key listed is always present, in this order;
//! absent values are `null`; numbers are JSON numbers. New keys may be added in
//! later versions; none are renamed or removed.
//!
//! | key | type | meaning |
//! |---|---|---|
//! | `kind` | string | `event`, `keepalive`, `alarm_status` or `unrecognized` (`error` only in `dump`) |
//!
//! **`event`**
//!
//! | key | type | meaning |
//! |---|---|---|
//! | `category` | string | `lpr`, `face`, `intrusion`, `counting`, `metadata`, `traject` |
//! | `alarm_type` | string | the `smartType` as sent (`VEHICE`, `regionIntrusion`, …); `traject` for tracking posts |
//! | `description` | string | the SDK's description (`License Plate Detection`, `Smart Tracking`, …) |
//! | `format` | string | layout family, `v1` (IP camera) or `v2` (NVR) |
//! | `config_version` | string | raw `config/@version` (`1.7`, `2.0.0`, …) |
//! | `device` | object | `{"name", "ip", "mac", "serial", "channel"}`: strings or null, `channel` a number |
//! | `time_us` | integer \| null | camera time in µs since the Unix epoch; null when absent or implausible |
//! | `plate` | object \| null | the first plate: `{"number", "group", "color", "direction", "confidence", "owner", "vehicle", "image_len"}`; `direction` is `approach`, `away` or the text sent; `confidence` a percentage (97.25) |
//! | `plates` | array | every plate, same objects as `plate` |
//! | `vehicle` | object \| null | the first plate's vehicle: `{"type", "color", "brand", "model"}` |
//! | `faces` | array | `{"age", "sex", "glasses", "mask", "id", "rect", "image_len"}` per face (attributes are v2 only) |
//! | `targets` | array | `{"id", "type", "event_id", "status", "rect", "region", "point", "velocity", "direction", "image_len"}` per target; `type` is `person`, `car`, `motor` or the code sent |
//! | `source_image_len` | integer \| null | decoded size in bytes of the overview picture |
//! | `target_image_len` | integer \| null | decoded size in bytes of the first crop (plate, else first face, else first target) |
//!
//! Rectangles are `[x1, y1, x2, y2]` and points `[x, y]` (normalised 0–10000,
//! except the pixel plate box of v2 `vehicle` posts). `region` is
//! `{"type": "polygon", "points": [[x, y], …]}`, `{"type": "line", "start": [x, y], "end": [x, y]}`
//! or null. `point`, `velocity` and `direction` are set for tracking targets only.
//! Image data itself is never written: every `*image_len` is the decoded JPEG
//! size, or null when there is no image or its base64 is invalid.
//!
//! **`keepalive`**: `device` (as above), `format` (`v1`, `v2`, or null for an
//! empty body or a `<DeviceInfo>` heartbeat).
//!
//! **`alarm_status`**: `device`, `format`, `time_us` (NVR `currentTime`),
//! `time_text` (IP camera `dataTime`, as sent), `alarms`: an array of
//! `{"name": "perimeterAlarm", "id": "1", "active": true}` (`id` is text or null).
//!
//! **`unrecognized`**: `reason` (`unknown-smartType`, `no-messageType`,
//! `unknown-messageType`, `not-viewtron`), `smart_type` (text or null),
//! `description` (the SDK's name for a known but unsupported `smartType`, such as
//! `Motion Detection`, or null).
//!
//! Example line (`dump` of the vendor's NVR licence-plate post, whose images are
//! placeholders, hence the null lengths):
//!
//! ```json
//! {"file":"nvr-v2/vehicle-lpr.xml","kind":"event","category":"lpr","alarm_type":"vehicle","description":"License Plate Detection","format":"v2","config_version":"2.0.0","device":{"name":"Device Name","ip":"192.168.0.60","mac":"58:5B:69:40:F4:0D","serial":null,"channel":2},"time_us":1772210268473000,"plate":{"number":"JP116D","group":null,"color":"white","direction":null,"confidence":null,"owner":null,"vehicle":{"type":"mpv","color":"white","brand":"GMC","model":"GMC_SAVANA"},"image_len":null},"plates":[{"number":"JP116D","group":null,"color":"white","direction":null,"confidence":null,"owner":null,"vehicle":{"type":"mpv","color":"white","brand":"GMC","model":"GMC_SAVANA"},"image_len":null}],"vehicle":{"type":"mpv","color":"white","brand":"GMC","model":"GMC_SAVANA"},"faces":[],"targets":[{"id":104,"type":"car","event_id":null,"status":null,"rect":[1104,546,1232,610],"region":null,"point":null,"velocity":null,"direction":null,"image_len":null}],"source_image_len":null,"target_image_len":null}
//! ```
// One module may use `unsafe`, with its safety argument: `server::own_fd`
// (`.ci/run` checks that it is the only one).
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, missing_debug_implementations)]

mod body;
mod event;
mod image;
#[cfg(feature = "serde")]
mod json;
pub mod limits;
mod parse;
#[cfg(all(feature = "server", target_os = "linux"))]
mod server;

// The server is for Linux: it closes refused connections and cuts stalled
// bodies through `/proc/self/fd`, and uses Linux socket flags. The parser
// and the event types build anywhere (`default-features = false`).
#[cfg(all(feature = "server", not(target_os = "linux")))]
compile_error!(
    "viewtron's `server` feature supports Linux only (its protections against hostile \
     clients need /proc/self/fd and Linux socket flags). For the parser and the event \
     types on this platform, use `viewtron = { version = \"0.2\", default-features = false }`."
);

pub use body::Body;
pub use event::{
    Alarm, AlarmStatus, Category, Device, Direction, Event, Face, Format, Keepalive, Plate, Point,
    Post, Rect, Region, Target, TargetStatus, TargetType, Unrecognized, UnrecognizedReason,
    Vehicle,
};
pub use image::{Image, ImageError};
pub use parse::{parse, ParseError};
#[cfg(all(feature = "server", target_os = "linux"))]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use server::{
    BuildError, Camera, Cidr, CidrError, Events, Overflow, Page, Protections, RecvTimeoutError,
    Refusal, Server, ServerBuilder, ShutdownHandle, Stats, TransportStats, TryRecvError,
    UnparsedReason,
};

/// The README's examples, compiled and run as doctests so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The example of `docs/protocol-notes.md`, compiled and run the same way.
#[cfg(doctest)]
#[doc = include_str!("../docs/protocol-notes.md")]
pub struct ProtocolNotesDoctests;
