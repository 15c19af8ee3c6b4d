//! "Is my camera still sending?" (issue 20): per camera, a connectivity
//! binary sensor (on with any post, keepalives included; off after
//! `mqtt.camera_timeout` without one, 90 s by default: three of the cameras'
//! 30 s keepalive intervals) and a last-seen timestamp sensor, on the
//! camera's Home Assistant device.
//!
//! How posts are seen: the library calls `on_event` for events only; a
//! keepalive reaches no callback (`on_connect` fires once per address, on
//! its first contact). But the library's [`viewtron::Stats::cameras`] has,
//! per address, when it last posted anything, keepalives included. So a
//! watcher thread reads that snapshot every second (a quarter of the
//! timeout when shorter), and events tell it at once (`learn`), with the
//! camera id they were published under.
//!
//! Addresses and ids: a keepalive carries no camera id (the vendor's id is
//! the event's name and the address), so the ids an address's events were
//! published under are learned from those events and kept in a state file
//! (`store.rs`), so that after a restart a camera's keepalives still reach
//! its device. Every id an address posted as gets the entities (an NVR whose
//! events come with and without its name makes two devices, both fed by the
//! one address). An address heard for [`PROVISIONAL_AFTER`] without any
//! event gets a provisional id: the vendor's rule on the name its keepalive
//! gives (`Gate` from 192.168.1.20 is `gate_192_168_1_20`), or the address
//! alone without a name (`192_168_1_20`, like the vendor's unnamed cameras);
//! its first event replaces it (the provisional entities are deleted) unless
//! the ids agree.
//!
//! After a restart, known cameras keep their retained state until they post
//! (then `online`) or stay silent for a whole timeout (then `offline`, with
//! the last-seen time kept in the state file).

mod entities;
mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crate::discovery::{Message, Naming};
use crate::mqtt::Mqtt;
use crate::payload::camera_id;
use entities::{configs, removal, status, MEMO_KEY};
use store::{from_unix, unix, Device, Known, Store};

/// An address first heard of this long ago and still without an event gets
/// a provisional id (its first post may be an event still being handled).
pub const PROVISIONAL_AFTER: Duration = Duration::from_secs(2);
/// While a camera stays online, its last-seen time is published at most
/// this often (keepalives every 30 s would otherwise write to Home
/// Assistant's history every 30 s); exact whenever it goes offline.
pub const LAST_SEEN_EVERY: Duration = Duration::from_secs(60);
/// The state file is written at most this often for last-seen times alone
/// (at once when an address gets a new id, and when the bridge stops).
const SAVE_EVERY: Duration = Duration::from_secs(300);
/// Camera ids kept per address (the oldest goes, published `offline`): a
/// camera renamed now and then, an NVR with and without its name, with room
/// to spare (the compatibility fixtures give one address 24).
const MAX_DEVICES: usize = 64;

/// Where our messages go: the MQTT handle (a recorder in the unit tests).
pub trait Sink {
    /// Queues a camera's configs for `key` the first time (remembered for
    /// republishing).
    fn discover(&self, camera_id: &str, key: &str, configs: Vec<Message>);
    /// Queues one message; false when it was dropped.
    fn send(&self, message: Message) -> bool;
    /// Forgets a camera's configs for `key` and queues `messages`.
    fn forget(&self, camera_id: &str, key: &str, messages: Vec<Message>);
}

impl Sink for Mqtt {
    fn discover(&self, camera_id: &str, key: &str, configs: Vec<Message>) {
        let _ = Mqtt::discover(self, camera_id, key, || configs);
    }
    fn send(&self, message: Message) -> bool {
        Mqtt::send(self, message)
    }
    fn forget(&self, camera_id: &str, key: &str, messages: Vec<Message>) {
        Mqtt::forget(self, camera_id, key, messages);
    }
}

/// The connectivity tracker; shared by the server's workers (`learn`) and
/// the watcher thread (`watch`).
#[derive(Debug)]
pub struct Presence {
    timeout: Duration,
    inner: Mutex<Inner>,
    /// The state file, written outside `inner`'s lock.
    store: Mutex<Option<Store>>,
}

#[derive(Debug)]
struct Inner {
    cameras: BTreeMap<IpAddr, Camera>,
    /// Something changed since the last save; `urgent`: an id.
    dirty: bool,
    urgent: bool,
    saved: Instant,
}

/// One address.
#[derive(Debug)]
struct Camera {
    devices: Vec<Device>,
    /// Its latest post (wall clock, for "last seen").
    seen: SystemTime,
    /// When we learned of that post (monotonic, for the timeout).
    heard: Instant,
    /// When we first heard of it (this run).
    since: Instant,
    /// The library's `last_seen` at the previous poll.
    library_seen: Option<SystemTime>,
    /// It posted during this run (not only known from the state file).
    posted: bool,
    /// What was last published for it (`None`: nothing this run).
    online: Option<bool>,
    /// When `online` was last published with a fresh last-seen time.
    refreshed: Option<Instant>,
}

impl Camera {
    fn new(seen: SystemTime, now: Instant) -> Camera {
        Camera {
            devices: Vec::new(),
            seen,
            heard: now,
            since: now,
            library_seen: None,
            posted: false,
            online: None,
            refreshed: None,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Presence {
    /// A tracker with `timeout`, its state file in `state_dir` (`None`: no
    /// memory across restarts), the cameras known from it loaded.
    pub fn new(timeout: Duration, state_dir: Option<&Path>) -> Presence {
        let store = state_dir.map(Store::new);
        let now = Instant::now();
        let cameras = store
            .as_ref()
            .map(Store::load)
            .unwrap_or_default()
            .into_iter()
            .map(|(ip, known)| {
                let mut camera = Camera::new(from_unix(known.last_seen), now);
                camera.devices = known.devices;
                (ip, camera)
            })
            .collect::<BTreeMap<_, _>>();
        if let Some(store) = &store {
            log::info!(
                "camera connectivity: offline after {:?} without a post; {} camera address(es) known from {}",
                timeout,
                cameras.len(),
                store.path().display()
            );
        }
        Presence {
            timeout,
            inner: Mutex::new(Inner {
                cameras,
                dirty: false,
                urgent: false,
                saved: now,
            }),
            store: Mutex::new(store),
        }
    }

    /// How often the watcher looks at the library's cameras.
    pub fn interval(&self) -> Duration {
        (self.timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(1))
    }

    /// Publishes the configs of every camera known from the state file, so
    /// that they are republished with the others (their states follow).
    pub fn announce(&self, sink: &dyn Sink, naming: &Naming) {
        let inner = lock(&self.inner);
        for (ip, camera) in &inner.cameras {
            for device in &camera.devices {
                sink.discover(&device.id, MEMO_KEY, configs(naming, device, *ip));
            }
        }
    }

    /// An event from `ip` was published under `camera_id`: the camera is
    /// online, and the id is one of the address's.
    pub fn learn(
        &self,
        sink: &dyn Sink,
        naming: &Naming,
        ip: IpAddr,
        camera_id: &str,
        camera_name: Option<&str>,
    ) {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        let camera = inner
            .cameras
            .entry(ip)
            .or_insert_with(|| Camera::new(wall, now));
        camera.seen = wall;
        camera.heard = now;
        camera.posted = true;
        inner.dirty = true;
        if !camera
            .devices
            .iter()
            .any(|d| d.id == camera_id && !d.provisional)
        {
            if let Some(i) = camera.devices.iter().position(|d| d.provisional) {
                let old = camera.devices.remove(i);
                if old.id != camera_id {
                    log::info!(
                        "camera {ip}: its first event names it {camera_id}; provisional {} removed",
                        old.id
                    );
                    sink.forget(&old.id, MEMO_KEY, removal(naming, &old.id));
                } else if old.name.as_deref() != camera_name {
                    // The same id, the event's spelling of the name: the
                    // configs again with the vendor's device name.
                    sink.forget(&old.id, MEMO_KEY, Vec::new());
                }
            }
            let device = Device {
                id: camera_id.to_owned(),
                name: camera_name.map(str::to_owned),
                provisional: false,
            };
            add(sink, naming, ip, camera, device);
            inner.urgent = true;
        }
        self.update(sink, naming, ip, camera, now, true);
    }

    /// One look at the library's cameras, at `now`.
    fn tick(&self, sink: &dyn Sink, naming: &Naming, library: &[Seen], now: Instant) {
        let mut inner = lock(&self.inner);
        let inner = &mut *inner;
        let mut fresh = BTreeSet::new();
        for seen in library {
            let ip = seen.ip;
            let camera = inner
                .cameras
                .entry(ip)
                .or_insert_with(|| Camera::new(seen.last_seen, now));
            if camera.library_seen != Some(seen.last_seen) {
                camera.library_seen = Some(seen.last_seen);
                camera.seen = seen.last_seen;
                camera.heard = now;
                camera.posted = true;
                inner.dirty = true;
                fresh.insert(ip);
            }
            if camera.devices.is_empty() && now.duration_since(camera.since) >= PROVISIONAL_AFTER {
                let name = seen
                    .device_name
                    .as_deref()
                    .map(str::trim)
                    .filter(|n| !n.is_empty());
                let device = Device {
                    id: camera_id(name, ip),
                    name: name.map(str::to_owned),
                    provisional: true,
                };
                log::info!(
                    "camera {ip}: posts but no event yet; provisionally {}",
                    device.id
                );
                add(sink, naming, ip, camera, device);
                inner.urgent = true;
            }
        }
        for (ip, camera) in inner.cameras.iter_mut() {
            self.update(sink, naming, *ip, camera, now, fresh.contains(ip));
        }
    }

    /// Publishes what changed for one address: `online` once it has posted
    /// in this run (again for a new device), its last-seen time again on a
    /// fresh post at most every [`LAST_SEEN_EVERY`], `offline` once the
    /// timeout has passed. A message the queue dropped is tried again at the
    /// next look.
    fn update(
        &self,
        sink: &dyn Sink,
        naming: &Naming,
        ip: IpAddr,
        camera: &mut Camera,
        now: Instant,
        fresh: bool,
    ) {
        if camera.devices.is_empty() {
            return;
        }
        let alive = now.duration_since(camera.heard) < self.timeout;
        let publish = if alive {
            camera.posted
                && (camera.online != Some(true)
                    || fresh
                        && camera
                            .refreshed
                            .is_none_or(|t| now.duration_since(t) >= LAST_SEEN_EVERY))
        } else {
            camera.online != Some(false)
        };
        if !publish {
            return;
        }
        let mut sent = true;
        for device in &camera.devices {
            sent &= sink.send(status(naming, &device.id, ip, alive, camera.seen));
        }
        if sent {
            if camera.online.is_some() && camera.online != Some(alive) {
                let state = if alive { "online again" } else { "offline" };
                log::info!("camera {ip}: {state}");
            }
            camera.online = Some(alive);
            if alive {
                camera.refreshed = Some(now);
            }
        }
    }

    /// Writes the state file when due (`force`: now, if anything changed).
    fn save(&self, force: bool) {
        let snapshot = {
            let mut inner = lock(&self.inner);
            let due = inner.urgent || inner.saved.elapsed() >= SAVE_EVERY;
            if !inner.dirty || !(due || force) {
                return;
            }
            inner.dirty = false;
            inner.urgent = false;
            inner.saved = Instant::now();
            inner
                .cameras
                .iter()
                .filter(|(_, c)| !c.devices.is_empty())
                .map(|(ip, c)| {
                    let known = Known {
                        devices: c.devices.clone(),
                        last_seen: unix(c.seen),
                    };
                    (*ip, known)
                })
                .collect()
        };
        if let Some(store) = lock(&self.store).as_mut() {
            store.save(snapshot);
        }
    }

    /// The watcher: announces the known cameras, then looks at `library`
    /// every [`interval`](Self::interval) until `stopping`; saves on the way
    /// out.
    pub fn watch(
        &self,
        sink: &dyn Sink,
        naming: &Naming,
        library: impl Fn() -> Vec<viewtron::Camera>,
        stopping: impl Fn() -> bool,
    ) {
        self.announce(sink, naming);
        let step = Duration::from_millis(100).min(self.interval());
        let mut next = Instant::now();
        while !stopping() {
            let now = Instant::now();
            if now >= next {
                let seen: Vec<Seen> = library().into_iter().map(Seen::from).collect();
                self.tick(sink, naming, &seen, now);
                self.save(false);
                next = now + self.interval();
            }
            std::thread::sleep(step);
        }
        self.save(true);
    }
}

/// What the library says of an address ([`viewtron::Camera`], which only
/// the library can make).
#[derive(Debug, Clone)]
struct Seen {
    ip: IpAddr,
    last_seen: SystemTime,
    device_name: Option<String>,
}

impl From<viewtron::Camera> for Seen {
    fn from(c: viewtron::Camera) -> Seen {
        Seen {
            ip: c.ip,
            last_seen: c.last_seen,
            device_name: c.device_name,
        }
    }
}

/// Adds `device` to an address: its configs, and its state: at once when
/// the address is online already (the others' states stay as they are),
/// else with the others at the next update.
fn add(sink: &dyn Sink, naming: &Naming, ip: IpAddr, camera: &mut Camera, device: Device) {
    sink.discover(&device.id, MEMO_KEY, configs(naming, &device, ip));
    if camera.online == Some(true) && !sink.send(status(naming, &device.id, ip, true, camera.seen))
    {
        camera.online = None;
    }
    camera.devices.push(device);
    if camera.devices.len() > MAX_DEVICES {
        let old = camera.devices.remove(0);
        sink.send(status(naming, &old.id, ip, false, camera.seen));
    }
}

#[cfg(test)]
mod tests;
