//! The installer's page (`page: {enabled: true}`): which cameras post to the
//! bridge, what each just sent, and its pictures, at `GET /` on the
//! bridge's own port, and in Home Assistant's sidebar through the app's
//! ingress.
//!
//! # What it shows, and from where
//!
//! - Every camera address the server heard from, keepalives included, from
//!   the library's [`Stats::cameras`](viewtron::Stats): name, first and
//!   latest contact. "Connected" while its latest post or keepalive is at
//!   most `page.quiet_after` old (90 s by default), "quiet" after; the
//!   state is written out, not told by colour alone.
//! - Per address, from the page's own log ([`store`]): the bridge's camera
//!   ids (`payload::camera_id`, as in its MQTT topics), events by category,
//!   and posts the library could not read as events (`on_unparsed`).
//! - Refusals (wrong path, credentials, limits...) by reason, for all
//!   addresses together: the library counts them in
//!   [`Stats::refused_by_reason`](viewtron::Stats) and tells no callback
//!   which address was refused, so the page cannot attribute them without
//!   a change to the library.
//! - The latest 20 events with their overview and plate/target pictures.
//!
//! # Polling, not server-sent events
//!
//! The page asks `api/cameras` every 2 s. A server-sent event stream would
//! hold one of the library's workers for as long as a tab stays open,
//! workers that answer the cameras (4 by default on a small machine); and
//! the library's pages answer a complete body, not a stream. A poll is one
//! short request, answered from a snapshot: at most 1,000 camera rows and
//! 20 events, a few hundred kilobytes at worst. Pictures are fetched once
//! per event, not per poll.
//!
//! # Cost to the cameras
//!
//! The bridge records an event after its camera has been answered (the
//! library calls `on_event` then). Recording copies the decoded pictures
//! (at most 2 × 512 KiB, a memcpy) before taking the page's lock, then
//! pushes and counts under it: O(1). A page request holds the lock only to
//! clone `Arc`s and the small per-address entries; encoding a picture as
//! base64 and rendering JSON happen after it is released.
//!
//! # Memory
//!
//! At most [`limits::MEMORY_BOUND`] bytes (23,946,240: under 23 MiB): the
//! latest 20 events, each with at most 2 pictures of at most 512 KiB (a
//! larger one is dropped and the event says so), texts cut to 128 bytes,
//! and counts for at most 1,000 camera addresses with 16 ids each. A
//! request being answered adds its own answer: a picture's base64 (at most
//! 683 KiB) or the JSON. The page shows what it holds now
//! ([`Snapshot::kept_bytes`](store::Snapshot::kept_bytes)); the allocator's
//! spare room comes on top (`tests/page.rs` measures both).
//!
//! # Who can see it
//!
//! Plates and pictures are personal data. The page is off unless enabled.
//! It is a library page: it sits behind `server.allow` like the cameras'
//! posts, but `server.basic_auth` protects posts only (the library checks
//! credentials for posts; a page never sees the request), so anyone the
//! allowlist admits can open it. In the Home Assistant app it is on and
//! reached through ingress (Home Assistant's login); the app adds the
//! ingress proxy (172.30.32.2) to a non-empty `allow`.
//!
//! # Ingress
//!
//! Home Assistant serves the page under `/api/hassio_ingress/<token>/`, so
//! every address in it is relative (`api/cameras`, `image/3/overview`), and
//! nothing is loaded from elsewhere (its Content-Security-Policy forbids it):
//! it works offline.
//!
//! Layout: `limits` and `text` are leaves; `store` keeps the state; `view`
//! renders it as JSON; `routes` registers the addresses on the server.

mod limits;
mod routes;
mod store;
mod text;
mod view;

pub use routes::serve;
pub use store::{Board, Settings};
