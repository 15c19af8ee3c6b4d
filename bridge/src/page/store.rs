//! What the page keeps: per camera address, its ids, name and counts; the
//! latest events with their pictures. Bounded (see `limits`), in memory.
//!
//! The event path ([`Board::record`]) does its copying before it takes the
//! lock and then only pushes and counts: O(1) under the lock. The page's
//! requests take the lock only to clone what they show ([`Board::snapshot`]:
//! `Arc`s for the events, small entries for the cameras) and render after.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::mem::size_of;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use viewtron::{Category, Event, UnparsedReason};

use crate::payload::{plate_access, State};

use super::limits::{MAX_CAMERAS, MAX_EVENTS, MAX_IDS, MAX_PICTURE};
use super::text::{capped, picture_type, size};

/// The page's settings (`page:` in config.yaml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// A camera is shown "quiet" after this long without a post or keepalive.
    pub quiet_after: Duration,
    /// Keep and show pictures (off: plates and texts only).
    pub pictures: bool,
}

/// The two pictures of an event, in the order the page shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Overview,
    Target,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Overview, Kind::Target];

    /// The name in the picture's address and the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Overview => "overview",
            Kind::Target => "target",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A picture as the camera sent it, decoded.
#[derive(Debug, Clone)]
pub struct Picture {
    pub media_type: &'static str,
    pub bytes: Arc<[u8]>,
}

/// What the page shows of an event, texts cut to `MAX_TEXT`.
#[derive(Debug)]
pub struct Recorded {
    /// 1, 2, 3... in the order recorded; `seq % MAX_EVENTS` is its picture slot.
    pub seq: u64,
    /// When the bridge received it.
    pub at: SystemTime,
    pub ip: IpAddr,
    pub camera_id: String,
    pub name: Option<String>,
    pub category: &'static str,
    pub description: &'static str,
    pub smart_type: String,
    pub plate: Option<String>,
    pub plate_status: Option<String>,
    /// `allowed`, `denied`, `temporary` or `unknown`, for a plate.
    pub plate_access: Option<&'static str>,
    /// Faces or targets, e.g. `2 faces`.
    pub detail: Option<String>,
    pub pictures: [Option<Picture>; 2],
    /// Why a picture is missing: too large, not a picture.
    pub notes: Vec<String>,
}

impl Recorded {
    pub fn picture(&self, kind: Kind) -> Option<&Picture> {
        self.pictures[kind.index()].as_ref()
    }
}

/// What the page keeps of one camera address.
#[derive(Debug, Clone, Default)]
pub struct CameraLog {
    /// The bridge's camera ids seen from this address, first seen first.
    pub ids: Vec<String>,
    /// Ids past `MAX_IDS`, not kept.
    pub more_ids: u64,
    /// The latest name an event carried.
    pub name: Option<String>,
    /// Events by category.
    pub events: BTreeMap<&'static str, u64>,
    pub last_event: Option<SystemTime>,
    /// Posts the library could not read as events (`on_unparsed`),
    /// alarm statuses apart.
    pub not_understood: u64,
    pub alarm_statuses: u64,
}

/// Everything a page request needs, cloned out of the lock.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Newest first.
    pub events: Vec<Arc<Recorded>>,
    pub cameras: HashMap<IpAddr, CameraLog>,
    /// Events and posts from addresses past `MAX_CAMERAS`.
    pub untracked: u64,
}

impl Snapshot {
    /// The bytes the page holds for what this snapshot shows: pictures,
    /// texts and structs (not the allocator's rounding); at most
    /// `MEMORY_BOUND`.
    pub fn kept_bytes(&self) -> usize {
        let text = |s: &String| s.capacity();
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
        let events: usize = self
            .events
            .iter()
            .map(|e| {
                let pictures: usize = e.pictures.iter().flatten().map(|p| p.bytes.len()).sum();
                let texts = text(&e.camera_id) + text(&e.smart_type) + opt(&e.name);
                let more = opt(&e.plate) + opt(&e.plate_status) + opt(&e.detail);
                let notes: usize = e.notes.iter().map(text).sum();
                size_of::<Recorded>() + pictures + texts + more + notes
            })
            .sum();
        let cameras: usize = self
            .cameras
            .values()
            .map(|c| {
                let ids: usize = c.ids.iter().map(text).sum();
                let counts = c.events.len() * (size_of::<&str>() + size_of::<u64>());
                size_of::<IpAddr>() + size_of::<CameraLog>() + opt(&c.name) + ids + counts
            })
            .sum();
        events + cameras
    }
}

#[derive(Debug, Default)]
struct Inner {
    next_seq: u64,
    /// Oldest first.
    events: VecDeque<Arc<Recorded>>,
    cameras: HashMap<IpAddr, CameraLog>,
    untracked: u64,
}

/// The page's state, shared by the event path and the page's requests.
#[derive(Debug)]
pub struct Board {
    pub settings: Settings,
    inner: Mutex<Inner>,
}

impl Board {
    pub fn new(settings: Settings) -> Board {
        Board {
            settings,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an event from `ip` as the bridge forwards it: the camera id,
    /// name and plate of its payload `state`, the overview and target
    /// pictures as decoded.
    pub fn record(&self, event: &Event, ip: IpAddr, state: &State, pictures: [Option<&[u8]>; 2]) {
        let seen = Seen {
            camera_id: &state.camera_id,
            name: state.camera_name.as_deref(),
            plate: state.plate_number(),
            plate_status: state.json.get("plate_status").and_then(|v| v.as_str()),
            overview: pictures[0],
            target: pictures[1],
        };
        self.keep(event, ip, seen);
    }

    /// [`record`](Self::record), from the parts the page needs.
    pub(super) fn keep(&self, event: &Event, ip: IpAddr, seen: Seen<'_>) {
        let mut notes = Vec::new();
        let mut pictures = [None, None];
        if self.settings.pictures {
            for (kind, bytes) in Kind::ALL.into_iter().zip([seen.overview, seen.target]) {
                pictures[kind.index()] = kept_picture(kind, bytes, &mut notes);
            }
        }
        let detail = match (event.faces().len(), event.targets().len()) {
            (0, 0) => None,
            (1, _) => Some("1 face".to_owned()),
            (n, _) if n > 1 => Some(format!("{n} faces")),
            (_, 1) => Some("1 target".to_owned()),
            (_, n) => Some(format!("{n} targets")),
        };
        let category = event.category().as_str();
        let mut recorded = Recorded {
            seq: 0,
            at: SystemTime::now(),
            ip,
            camera_id: capped(seen.camera_id),
            name: seen.name.map(capped),
            category,
            description: event.description(),
            smart_type: capped(event.alarm_type()),
            plate: seen.plate.map(capped),
            plate_status: seen.plate_status.map(capped),
            plate_access: seen.plate.map(|_| plate_access(event.plate_group())),
            detail,
            pictures,
            notes,
        };
        let mut inner = self.lock();
        inner.next_seq += 1;
        recorded.seq = inner.next_seq;
        if let Some(log) = inner.camera(ip) {
            *log.events.entry(category).or_default() += 1;
            log.last_event = Some(recorded.at);
            if recorded.name.is_some() {
                log.name.clone_from(&recorded.name);
            }
            if !log.ids.contains(&recorded.camera_id) {
                if log.ids.len() < MAX_IDS {
                    log.ids.push(recorded.camera_id.clone());
                } else {
                    log.more_ids += 1;
                }
            }
        }
        if inner.events.len() == MAX_EVENTS {
            inner.events.pop_front();
        }
        inner.events.push_back(Arc::new(recorded));
    }

    /// Counts a post from `ip` that the library could not read as an event.
    pub fn unparsed(&self, ip: IpAddr, reason: &UnparsedReason) {
        let mut inner = self.lock();
        if let Some(log) = inner.camera(ip) {
            match reason {
                UnparsedReason::AlarmStatus => log.alarm_statuses += 1,
                _ => log.not_understood += 1,
            }
        }
    }

    /// What the page shows, cloned out of the lock.
    pub fn snapshot(&self) -> Snapshot {
        let inner = self.lock();
        Snapshot {
            events: inner.events.iter().rev().cloned().collect(),
            cameras: inner.cameras.clone(),
            untracked: inner.untracked,
        }
    }

    /// The event whose pictures are in `slot` (`seq % MAX_EVENTS`), if kept.
    pub fn in_slot(&self, slot: usize) -> Option<Arc<Recorded>> {
        let inner = self.lock();
        let found = inner
            .events
            .iter()
            .find(|e| e.seq % MAX_EVENTS as u64 == slot as u64);
        found.cloned()
    }
}

/// What the bridge made of an event, for [`Board::record`].
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Seen<'a> {
    pub camera_id: &'a str,
    pub name: Option<&'a str>,
    pub plate: Option<&'a str>,
    pub plate_status: Option<&'a str>,
    pub overview: Option<&'a [u8]>,
    pub target: Option<&'a [u8]>,
}

impl Inner {
    /// The log of `ip`; a new one while fewer than `MAX_CAMERAS` are kept,
    /// else `None` (and the post is counted as untracked).
    fn camera(&mut self, ip: IpAddr) -> Option<&mut CameraLog> {
        if self.cameras.len() >= MAX_CAMERAS && !self.cameras.contains_key(&ip) {
            self.untracked += 1;
            return None;
        }
        Some(self.cameras.entry(ip).or_default())
    }
}

/// The picture to keep, or `None` with a note saying why not.
fn kept_picture(kind: Kind, bytes: Option<&[u8]>, notes: &mut Vec<String>) -> Option<Picture> {
    let bytes = bytes?;
    let name = kind.as_str();
    if bytes.len() > MAX_PICTURE {
        notes.push(format!(
            "{name} picture of {} not kept (over {})",
            size(bytes.len()),
            size(MAX_PICTURE)
        ));
        return None;
    }
    let Some(media_type) = picture_type(bytes) else {
        notes.push(format!("{name} picture is not a JPEG or PNG: not shown"));
        return None;
    };
    Some(Picture {
        media_type,
        bytes: Arc::from(bytes),
    })
}

/// The category names, for counts a camera has none of yet.
pub fn categories() -> impl Iterator<Item = &'static str> {
    Category::ALL
        .iter()
        .filter(|c| **c != Category::Traject)
        .map(|c| c.as_str())
}

#[cfg(test)]
mod tests {
    use super::super::limits::{CAMERA_OVERHEAD, EVENT_OVERHEAD, TEXTS_PER_EVENT};
    use super::*;

    fn event(xml: &str) -> Event {
        match viewtron::parse(xml.as_bytes().to_vec()) {
            Ok(viewtron::Post::Event(e)) => e,
            other => panic!("not an event: {other:?}"),
        }
    }

    const PEA: &str =
        "<config version=\"1.7\"><smartType type=\"openAlramObj\">PEA</smartType></config>";

    fn board() -> Board {
        Board::new(Settings {
            quiet_after: Duration::from_secs(90),
            pictures: true,
        })
    }

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x0A00_0000 + n))
    }

    #[test]
    fn keeps_the_latest_events_and_their_slots() {
        let b = board();
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
        for n in 0..45 {
            let seen = Seen {
                camera_id: &format!("cam_{n}"),
                overview: Some(&jpeg),
                ..Seen::default()
            };
            b.keep(&event(PEA), ip(1), seen);
        }
        let s = b.snapshot();
        assert_eq!(s.events.len(), MAX_EVENTS);
        assert_eq!(s.events[0].seq, 45);
        assert_eq!(s.events[MAX_EVENTS - 1].seq, 26);
        assert_eq!(s.cameras[&ip(1)].events["intrusion"], 45);
        assert_eq!(s.cameras[&ip(1)].ids.len(), MAX_IDS);
        assert_eq!(s.cameras[&ip(1)].more_ids, 45 - MAX_IDS as u64);
        let kept = s.kept_bytes();
        assert!(kept > MAX_EVENTS * jpeg.len() && kept < 64 * 1024, "{kept}");
        let slot = (45 % MAX_EVENTS as u64) as usize;
        assert_eq!(b.in_slot(slot).unwrap().seq, 45);
        let pic = b.in_slot(slot).unwrap();
        assert_eq!(&*pic.picture(Kind::Overview).unwrap().bytes, &jpeg);
        assert!(pic.picture(Kind::Target).is_none());
    }

    #[test]
    fn large_or_strange_pictures_are_dropped_with_a_note() {
        let b = board();
        let mut big = vec![0u8; MAX_PICTURE + 1];
        big[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
        let seen = Seen {
            camera_id: "c",
            overview: Some(&big),
            target: Some(b"<svg onload=alert(1)>"),
            ..Seen::default()
        };
        b.keep(&event(PEA), ip(1), seen);
        let e = &b.snapshot().events[0];
        assert!(e.pictures.iter().all(Option::is_none));
        assert_eq!(e.notes.len(), 2, "{:?}", e.notes);
        assert!(e.notes[0].contains("512 KiB"), "{:?}", e.notes);
    }

    #[test]
    fn pictures_off_keeps_none() {
        let b = Board::new(Settings {
            quiet_after: Duration::from_secs(1),
            pictures: false,
        });
        let jpeg = [0xFF, 0xD8, 0xFF];
        let seen = Seen {
            overview: Some(&jpeg),
            ..Seen::default()
        };
        b.keep(&event(PEA), ip(1), seen);
        assert!(b.snapshot().events[0].pictures.iter().all(Option::is_none));
    }

    #[test]
    fn at_most_max_cameras_are_tracked() {
        let b = board();
        for n in 0..MAX_CAMERAS as u32 + 5 {
            b.unparsed(ip(n), &UnparsedReason::AlarmStatus);
        }
        b.keep(&event(PEA), ip(MAX_CAMERAS as u32 + 7), Seen::default());
        let s = b.snapshot();
        assert_eq!(s.cameras.len(), MAX_CAMERAS);
        assert_eq!(s.untracked, 6);
        assert_eq!(s.events.len(), 1, "the event is still shown");
    }

    #[test]
    fn the_overheads_in_the_memory_bound_cover_the_real_sizes() {
        use std::mem::size_of;
        // An event: its struct, the Arc's counts, the deque's slot, the
        // notes' Vec, and the pictures' Arc headers.
        let event = size_of::<Recorded>() + 16 + size_of::<Arc<Recorded>>() + 2 * 16;
        assert!(event <= EVENT_OVERHEAD, "{event}");
        // Six texts and up to one note per picture.
        assert_eq!(TEXTS_PER_EVENT, 6 + Kind::ALL.len());
        // A camera: the map's entry (key, value, control byte, and the load
        // factor's spare room: ×8/7), the BTreeMap's one node of counts.
        let entry = (size_of::<IpAddr>() + size_of::<CameraLog>() + 1) * 8 / 7;
        let counts_node = 11 * (size_of::<&str>() + size_of::<u64>()) + 16;
        assert!(
            entry + counts_node <= CAMERA_OVERHEAD,
            "{entry} + {counts_node}"
        );
    }
}
