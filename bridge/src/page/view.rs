//! The page's JSON: `api/cameras` (everything the page shows, polled) and
//! `image/<slot>/<kind>` (one picture, base64, fetched once per event).
//!
//! The cameras come from the library's [`Stats::cameras`] (every address
//! that posted, keepalives included: its first and latest contact and the
//! device name it reported), joined with the page's own log per address
//! (ids, events by category, posts not understood). Refusals come from
//! [`Stats::refused_by_reason`]: the library counts them by reason for all
//! addresses together and tells no callback who was refused, so the page
//! cannot say which address a refusal came from.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use viewtron::{Camera, Refusal, Stats};

use super::limits::{MAX_CAMERAS, MAX_EVENTS, MAX_PICTURE, MEMORY_BOUND};
use super::store::{categories, CameraLog, Kind, Recorded, Settings, Snapshot};
use super::text::base64_into;

/// Milliseconds since the Unix epoch, as JavaScript's `Date` takes them.
fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `api/cameras`: the whole page's data at `now`.
pub fn cameras(
    settings: &Settings,
    poll_ms: u64,
    stats: &Stats,
    snap: &Snapshot,
    now: SystemTime,
) -> String {
    let cameras: Vec<Value> = stats
        .cameras
        .iter()
        .take(MAX_CAMERAS)
        .map(|c| camera(c, snap.cameras.get(&c.ip), settings, now))
        .collect();
    let refused: Vec<Value> = stats
        .refused_by_reason
        .iter()
        .map(|(r, n)| {
            json!({"reason": r.as_str(), "status": r.status(), "label": label(*r), "count": n})
        })
        .collect();
    let events: Vec<Value> = snap.events.iter().map(|e| event(e)).collect();
    json!({
        "now": millis(now),
        "poll_ms": poll_ms,
        "quiet_after_s": settings.quiet_after.as_secs_f64(),
        "pictures": settings.pictures,
        "limits": {
            "events": MAX_EVENTS,
            "picture_bytes": MAX_PICTURE,
            "cameras": MAX_CAMERAS,
            "memory_bytes": MEMORY_BOUND,
        },
        "kept_bytes": snap.kept_bytes(),
        "cameras": cameras,
        "cameras_not_shown": stats.cameras.len().saturating_sub(MAX_CAMERAS),
        "untracked": snap.untracked,
        "refused": refused,
        "refused_total": stats.refused,
        "not_understood_total": stats.unrecognized + stats.parse_errors,
        "keepalives_total": stats.keepalives,
        "events": events,
    })
    .to_string()
}

/// One camera's row: the library's contact times and name, the page's log.
/// Quiet: no post nor keepalive for longer than `quiet_after`.
fn camera(c: &Camera, log: Option<&CameraLog>, settings: &Settings, now: SystemTime) -> Value {
    let empty = CameraLog::default();
    let log = log.unwrap_or(&empty);
    let silent = now.duration_since(c.last_seen).unwrap_or(Duration::ZERO);
    let quiet = silent > settings.quiet_after;
    let counts: Map<String, Value> = categories()
        .map(|k| (k.to_owned(), json!(log.events.get(k).copied().unwrap_or(0))))
        .collect();
    json!({
        "ip": c.ip.to_string(),
        "name": log.name.as_deref().or(c.device_name.as_deref()),
        "ids": log.ids,
        "more_ids": log.more_ids,
        "state": if quiet { "quiet" } else { "connected" },
        "silent_s": silent.as_secs(),
        "first_seen": millis(c.first_seen),
        "last_seen": millis(c.last_seen),
        "events": counts,
        "events_total": log.events.values().sum::<u64>(),
        "last_event": log.last_event.map(millis),
        "not_understood": log.not_understood,
        "alarm_statuses": log.alarm_statuses,
    })
}

/// One event, its pictures as the addresses the page fetches them from
/// (relative: the page works under Home Assistant's ingress prefix).
fn event(e: &Recorded) -> Value {
    let slot = e.seq % MAX_EVENTS as u64;
    let pictures: Vec<Value> = Kind::ALL
        .into_iter()
        .filter_map(|k| e.picture(k).map(|p| (k, p)))
        .map(|(k, p)| {
            json!({
                "kind": k.as_str(),
                "url": format!("image/{slot}/{}", k.as_str()),
                "bytes": p.bytes.len(),
            })
        })
        .collect();
    json!({
        "seq": e.seq,
        "at": millis(e.at),
        "ip": e.ip.to_string(),
        "camera_id": e.camera_id,
        "name": e.name,
        "category": e.category,
        "description": e.description,
        "smart_type": e.smart_type,
        "plate": e.plate,
        "plate_status": e.plate_status,
        "plate_access": e.plate_access,
        "detail": e.detail,
        "pictures": pictures,
        "notes": e.notes,
    })
}

/// `image/<slot>/<kind>`: `{"seq", "type", "base64"}` of the event now in
/// `slot`, so the page can tell it is still the event it asked for; `None`
/// when that slot holds no such picture.
pub fn picture(event: &Recorded, kind: Kind) -> Option<String> {
    let picture = event.picture(kind)?;
    let mut out = String::with_capacity(64 + picture.bytes.len().div_ceil(3) * 4);
    out.push_str(&format!(
        "{{\"seq\":{},\"type\":\"{}\",\"base64\":\"",
        event.seq, picture.media_type
    ));
    base64_into(&picture.bytes, &mut out);
    out.push_str("\"}");
    Some(out)
}

/// What a refusal means to someone setting up a camera.
fn label(reason: Refusal) -> &'static str {
    match reason {
        Refusal::Forbidden => "Address not allowed (server.allow)",
        Refusal::Unauthorized => "Wrong or missing user name and password",
        Refusal::MethodNotAllowed => "Not a POST",
        Refusal::NotFound => "Wrong path (server.paths)",
        Refusal::TooLarge => "Post too large (server.max_body)",
        Refusal::BadFraming => "Malformed request",
        Refusal::TooManyHeaders => "Too many headers",
        Refusal::IncompleteBody => "Connection lost mid-post",
        Refusal::BodyTimeout => "Post too slow (server.body_timeout)",
        Refusal::PerAddressCap => "Too many posts at once (server.max_per_address)",
        _ => "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::{Board, Seen};
    use super::*;

    fn board() -> Board {
        Board::new(Settings {
            quiet_after: Duration::from_secs(90),
            pictures: true,
        })
    }

    #[test]
    fn an_empty_board_is_valid_json_with_every_refusal_reason() {
        let stats = Stats::default();
        let snap = Snapshot::default();
        let text = cameras(&board().settings, 2000, &stats, &snap, SystemTime::now());
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["cameras"], json!([]));
        assert_eq!(v["limits"]["memory_bytes"], json!(MEMORY_BOUND));
    }

    #[test]
    fn a_picture_answers_with_its_event_number() {
        let b = board();
        let xml =
            "<config version=\"1.7\"><smartType type=\"openAlramObj\">PEA</smartType></config>";
        let Ok(viewtron::Post::Event(event)) = viewtron::parse(xml.as_bytes().to_vec()) else {
            panic!()
        };
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0];
        let seen = Seen {
            camera_id: "gate_10_0_0_1",
            target: Some(&jpeg),
            ..Seen::default()
        };
        b.keep(&event, "10.0.0.1".parse().unwrap(), seen);
        let e = b.in_slot(1).unwrap();
        let v: Value = serde_json::from_str(&picture(&e, Kind::Target).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({"seq": 1, "type": "image/jpeg", "base64": "/9j/4A=="})
        );
        assert!(picture(&e, Kind::Overview).is_none());
        let listed = event_json(&e);
        assert_eq!(listed["pictures"][0]["url"], "image/1/target");
    }

    fn event_json(e: &Recorded) -> Value {
        event(e)
    }
}
