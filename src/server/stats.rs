//! Counters the workers update and the snapshot users read.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::SystemTime;

use super::refusal::Refusal;
use crate::Category;

/// A camera or NVR the server has heard from.
///
/// ```
/// let server = viewtron::Server::builder().port(0).build()?;
/// for camera in server.stats().cameras {
///     println!("{} ({:?}) last seen {:?}", camera.ip, camera.device_name, camera.last_seen);
/// }
/// # server.shutdown();
/// # Ok::<(), viewtron::BuildError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Camera {
    /// The camera's address: the TCP peer, or the address a
    /// [trusted proxy](super::ServerBuilder::trusted_proxies) names in
    /// `X-Forwarded-For` (IPv4-mapped IPv6 shown as IPv4).
    pub ip: IpAddr,
    /// First post of any kind.
    pub first_seen: SystemTime,
    /// Latest post of any kind.
    pub last_seen: SystemTime,
    /// Latest device name the camera reported.
    pub device_name: Option<String>,
}

/// Which of the server's protections against hostile clients are active.
///
/// Each needs the server to reach the socket of a connection tiny_http owns
/// (see `docs/tiny_http.md`, "Refused connections"), which works on Linux
/// wherever `/proc` is mounted, containers included. Where a protection is
/// not active, the server says so at start (a warning naming the
/// consequence) and here, and in `/metrics` as `viewtron_protection_active`.
///
/// ```
/// let server = viewtron::Server::builder().port(0).build()?;
/// let protections = server.stats().transport.protections;
/// # #[cfg(target_os = "linux")]
/// assert!(protections.close_refused && protections.cut_stalled_bodies);
/// # server.shutdown();
/// # Ok::<(), viewtron::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Protections {
    /// A refused connection is closed right after its answer, so nothing
    /// sent after a refused head (a request smuggled behind refused
    /// framing) is ever read. Without it: the connection stays open until
    /// the client closes it or the read timeout.
    pub close_refused: bool,
    /// A body that stalls is cut at its deadline (`408`). Without it: at
    /// the read timeout.
    pub cut_stalled_bodies: bool,
}

impl Protections {
    /// Every protection with whether it is active, as `/metrics` names them.
    ///
    /// ```
    /// let all = viewtron::Protections::default().list();
    /// assert_eq!(all[0], ("close_refused", false));
    /// ```
    pub fn list(&self) -> [(&'static str, bool); 2] {
        [
            ("close_refused", self.close_refused),
            ("cut_stalled_bodies", self.cut_stalled_bodies),
        ]
    }
}

/// A snapshot of the server's counters; see [`Server::stats`](super::Server::stats).
///
/// ```
/// let server = viewtron::Server::builder().port(0).build()?;
/// let stats = server.stats();
/// assert_eq!(stats.requests, 0);
/// assert_eq!(stats.events(), 0);
/// # server.shutdown();
/// # Ok::<(), viewtron::BuildError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// HTTP requests answered, of any method.
    pub requests: u64,
    /// Events delivered, by category.
    pub events_by_category: BTreeMap<Category, u64>,
    /// Keepalives (empty bodies and keepalive documents).
    pub keepalives: u64,
    /// Alarm status posts.
    pub alarm_statuses: u64,
    /// Well-formed posts that are not events.
    pub unrecognized: u64,
    /// Bodies that are not UTF-8 or not XML.
    pub parse_errors: u64,
    /// User callbacks that panicked (caught; the worker carried on).
    pub callback_panics: u64,
    /// Events dropped by the [`Overflow`](super::Overflow) policy.
    pub dropped: u64,
    /// Body bytes received.
    pub bytes_received: u64,
    /// Requests refused, all reasons together.
    pub refused: u64,
    /// Requests refused, by reason: every [`Refusal`] has an entry.
    pub refused_by_reason: BTreeMap<Refusal, u64>,
    /// Requests read from a connection after a request on it was refused
    /// and the connection closed (what a smuggler hides in a body): neither
    /// answered nor delivered.
    pub discarded: u64,
    /// Requests in progress now: taken by a worker and not yet answered
    /// (their bodies being read), against
    /// [`ServerBuilder::max_per_address`](super::ServerBuilder::max_per_address)
    /// per address. A gauge, not a counter.
    pub in_progress: u64,
    /// Every camera seen, ordered by IP.
    pub cameras: Vec<Camera>,
    /// What the transport reports: its repairs of tiny_http, and which
    /// protections against hostile clients are active.
    pub transport: TransportStats,
}

/// The transport's section of [`Stats`]: what the server's repairs of
/// tiny_http 0.12 did, and which protections they give here. These describe
/// the HTTP layer, not the cameras; a later tiny_http (or another HTTP
/// layer) may need fewer repairs, and then a counter here stays 0. See
/// `docs/tiny_http.md` for each.
///
/// ```
/// let server = viewtron::Server::builder().port(0).build()?;
/// let transport = server.stats().transport;
/// assert_eq!(transport.parked, 0);
/// assert_eq!(transport.accept_restarts, 0);
/// # server.shutdown();
/// # Ok::<(), viewtron::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransportStats {
    /// Connections parked because tiny_http could not safely drop them:
    /// a refused request declaring a body larger than this machine could
    /// allocate (see [`limits::MAX_DRAIN_BYTES`](crate::limits::MAX_DRAIN_BYTES)
    /// and `docs/tiny_http.md`). Each keeps a thread and two descriptors
    /// until the process exits.
    pub parked: u64,
    /// Times tiny_http's accept loop died (out of descriptors, or its
    /// silent panic) and was rebuilt on the same socket.
    pub accept_restarts: u64,
    /// Which protections against hostile clients are active.
    pub protections: Protections,
}

impl Stats {
    /// Events delivered in all categories.
    ///
    /// ```
    /// assert_eq!(viewtron::Stats::default().events(), 0);
    /// ```
    pub fn events(&self) -> u64 {
        self.events_by_category.values().sum()
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub events: [AtomicU64; Category::COUNT],
    pub keepalives: AtomicU64,
    pub alarm_statuses: AtomicU64,
    pub unrecognized: AtomicU64,
    pub parse_errors: AtomicU64,
    pub callback_panics: AtomicU64,
    pub dropped: AtomicU64,
    pub bytes_received: AtomicU64,
    pub refused: [AtomicU64; Refusal::COUNT],
    cameras: Mutex<HashMap<IpAddr, Camera>>,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}

impl Counters {
    pub fn refusal(&self, why: Refusal) {
        bump(&self.refused[why.index()]);
    }

    pub fn event(&self, category: Category) {
        bump(&self.events[category.index()]);
    }

    /// Records contact from `ip`; `true` on its first contact.
    pub fn seen(&self, ip: IpAddr, device_name: Option<&str>) -> bool {
        let now = SystemTime::now();
        let mut cameras = self.cameras.lock().unwrap_or_else(|e| e.into_inner());
        let mut first = false;
        let camera = cameras.entry(ip).or_insert_with(|| {
            first = true;
            Camera {
                ip,
                first_seen: now,
                last_seen: now,
                device_name: None,
            }
        });
        camera.last_seen = now;
        if let Some(name) = device_name {
            if camera.device_name.as_deref() != Some(name) {
                camera.device_name = Some(name.to_owned());
            }
        }
        first
    }

    pub fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Relaxed);
        let mut cameras: Vec<Camera> = self
            .cameras
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        cameras.sort_by_key(|c| c.ip);
        Stats {
            requests: get(&self.requests),
            events_by_category: Category::ALL
                .iter()
                .zip(&self.events)
                .map(|(c, n)| (*c, get(n)))
                .collect(),
            keepalives: get(&self.keepalives),
            alarm_statuses: get(&self.alarm_statuses),
            unrecognized: get(&self.unrecognized),
            parse_errors: get(&self.parse_errors),
            callback_panics: get(&self.callback_panics),
            dropped: get(&self.dropped),
            bytes_received: get(&self.bytes_received),
            refused: self.refused.iter().map(get).sum(),
            refused_by_reason: Refusal::ALL
                .iter()
                .zip(&self.refused)
                .map(|(r, n)| (*r, get(n)))
                .collect(),
            // Filled in by the pipeline, which reads the transport.
            discarded: 0,
            in_progress: 0,
            cameras,
            transport: TransportStats::default(),
        }
    }
}
