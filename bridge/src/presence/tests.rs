//! The tracker against a recording sink, time passed in by hand.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::*;
use serde_json::Value;

/// What the tracker queued: (kind, topic, payload).
#[derive(Default)]
struct Recorder {
    log: RefCell<Vec<(&'static str, String, Vec<u8>)>>,
    memo: RefCell<BTreeMap<(String, String), ()>>,
}

impl Sink for Recorder {
    fn discover(&self, camera_id: &str, key: &str, configs: Vec<Message>) {
        let key = (camera_id.to_owned(), key.to_owned());
        if self.memo.borrow_mut().insert(key, ()).is_none() {
            for m in configs {
                self.log.borrow_mut().push(("config", m.topic, m.payload));
            }
        }
    }
    fn send(&self, m: Message) -> bool {
        self.log.borrow_mut().push(("send", m.topic, m.payload));
        true
    }
    fn forget(&self, camera_id: &str, key: &str, messages: Vec<Message>) {
        self.memo
            .borrow_mut()
            .remove(&(camera_id.to_owned(), key.to_owned()));
        for m in messages {
            self.log.borrow_mut().push(("forget", m.topic, m.payload));
        }
    }
}

impl Recorder {
    fn take(&self) -> Vec<(&'static str, String, Vec<u8>)> {
        std::mem::take(&mut *self.log.borrow_mut())
    }
    /// The statuses sent, as (topic, status).
    fn statuses(&self) -> Vec<(String, String)> {
        self.take()
            .into_iter()
            .filter(|(kind, topic, _)| *kind == "send" && topic.ends_with("/connection"))
            .map(|(_, topic, payload)| {
                let v: Value = serde_json::from_slice(&payload).unwrap();
                (topic, v["status"].as_str().unwrap().to_owned())
            })
            .collect()
    }
}

const IP: &str = "192.168.1.20";
const TIMEOUT: Duration = Duration::from_secs(90);

fn ip() -> IpAddr {
    IP.parse().unwrap()
}

fn seen(at: SystemTime, name: Option<&str>) -> Seen {
    Seen {
        ip: ip(),
        last_seen: at,
        device_name: name.map(str::to_owned),
    }
}

fn temp(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("viewtron-presence-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn an_event_is_online_keepalives_keep_it_silence_turns_it_off() {
    let (sink, naming) = (Recorder::default(), Naming::for_tests());
    let p = Presence::new(TIMEOUT, None);
    p.learn(&sink, &naming, ip(), "gate_192_168_1_20", Some("Gate"));
    let log = sink.take();
    let configs: Vec<&str> = log
        .iter()
        .filter(|(k, ..)| *k == "config")
        .map(|(_, t, _)| t.as_str())
        .collect();
    assert_eq!(
        configs,
        [
            "homeassistant/binary_sensor/gate_192_168_1_20/connectivity/config",
            "homeassistant/sensor/gate_192_168_1_20/last_seen/config"
        ]
    );
    assert_eq!(
        log.last().unwrap().1,
        "viewtron/gate_192_168_1_20/connection"
    );
    let t0 = Instant::now();
    let wall = SystemTime::now();
    // The library saw the same post: nothing new.
    p.tick(&sink, &naming, &[seen(wall, Some("Gate"))], t0);
    assert!(sink.statuses().is_empty());
    // Keepalives within the timeout: still online, nothing published
    // (last-seen refreshed at most every LAST_SEEN_EVERY).
    for s in [30, 59] {
        let at = wall + Duration::from_secs(s);
        p.tick(
            &sink,
            &naming,
            &[seen(at, None)],
            t0 + Duration::from_secs(s),
        );
        assert!(sink.statuses().is_empty(), "{s}");
    }
    let at = wall + Duration::from_secs(89);
    p.tick(
        &sink,
        &naming,
        &[seen(at, None)],
        t0 + Duration::from_secs(89),
    );
    let topic = "viewtron/gate_192_168_1_20/connection".to_owned();
    assert_eq!(sink.statuses(), [(topic.clone(), "online".to_owned())]);
    // Silent: offline one timeout after the last keepalive, once.
    p.tick(
        &sink,
        &naming,
        &[seen(at, None)],
        t0 + Duration::from_secs(178),
    );
    assert!(sink.statuses().is_empty());
    p.tick(
        &sink,
        &naming,
        &[seen(at, None)],
        t0 + Duration::from_secs(179),
    );
    assert_eq!(sink.statuses(), [(topic.clone(), "offline".to_owned())]);
    p.tick(
        &sink,
        &naming,
        &[seen(at, None)],
        t0 + Duration::from_secs(200),
    );
    assert!(sink.statuses().is_empty());
    // A keepalive again: online.
    let at = at + Duration::from_secs(200);
    p.tick(
        &sink,
        &naming,
        &[seen(at, None)],
        t0 + Duration::from_secs(289),
    );
    assert_eq!(sink.statuses(), [(topic, "online".to_owned())]);
}

#[test]
fn a_camera_with_keepalives_only_gets_a_provisional_id_its_first_event_replaces() {
    let (sink, naming) = (Recorder::default(), Naming::for_tests());
    let p = Presence::new(TIMEOUT, None);
    let (t0, wall) = (Instant::now(), SystemTime::now());
    p.tick(&sink, &naming, &[seen(wall, Some(" Yard "))], t0);
    assert!(sink.take().is_empty(), "nothing before PROVISIONAL_AFTER");
    let at = wall + Duration::from_secs(1);
    p.tick(
        &sink,
        &naming,
        &[seen(at, Some(" Yard "))],
        t0 + PROVISIONAL_AFTER,
    );
    let log = sink.take();
    assert!(log
        .iter()
        .any(|(k, t, _)| *k == "config" && t.contains("/yard_192_168_1_20/connectivity/")));
    let v: Value = serde_json::from_slice(&log[0].2).unwrap();
    assert_eq!(v["device"]["name"], "Viewtron Yard");
    assert!(log
        .iter()
        .any(|(k, t, _)| *k == "send" && t == "viewtron/yard_192_168_1_20/connection"));
    // Its first event names it otherwise: the provisional entities go.
    p.learn(&sink, &naming, ip(), "192_168_1_20", None);
    let log = sink.take();
    let forgotten: Vec<&str> = log
        .iter()
        .filter(|(k, ..)| *k == "forget")
        .map(|(_, t, _)| t.as_str())
        .collect();
    assert_eq!(
        forgotten,
        [
            "homeassistant/binary_sensor/yard_192_168_1_20/connectivity/config",
            "homeassistant/sensor/yard_192_168_1_20/last_seen/config",
            "viewtron/yard_192_168_1_20/connection"
        ]
    );
    let v: Value = serde_json::from_slice(
        &log.iter()
            .find(|(k, t, _)| *k == "config" && t.contains("/192_168_1_20/connectivity/"))
            .unwrap()
            .2,
    )
    .unwrap();
    assert_eq!(v["device"]["name"], "Viewtron 192.168.1.20");
    assert!(log
        .iter()
        .any(|(k, t, _)| *k == "send" && t == "viewtron/192_168_1_20/connection"));
    // An address whose keepalive names no one: the address alone.
    let other: IpAddr = "10.0.0.9".parse().unwrap();
    let s = Seen {
        ip: other,
        last_seen: wall,
        device_name: None,
    };
    p.tick(&sink, &naming, std::slice::from_ref(&s), t0);
    p.tick(&sink, &naming, &[s], t0 + Duration::from_secs(3));
    assert!(sink
        .take()
        .iter()
        .any(|(k, t, _)| *k == "config" && t.contains("/10_0_0_9/connectivity/")));
}

#[test]
fn every_id_of_an_address_follows_it() {
    let (sink, naming) = (Recorder::default(), Naming::for_tests());
    let p = Presence::new(TIMEOUT, None);
    p.learn(&sink, &naming, ip(), "depot_192_168_1_20", Some("Depot"));
    p.learn(&sink, &naming, ip(), "192_168_1_20", None);
    sink.take();
    let t0 = Instant::now();
    p.tick(&sink, &naming, &[], t0 + TIMEOUT + Duration::from_secs(1));
    let got = sink.statuses();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|(_, s)| s == "offline"));
}

#[test]
fn the_state_file_keeps_ids_across_a_restart() {
    let dir = temp("restart");
    let (sink, naming) = (Recorder::default(), Naming::for_tests());
    {
        let p = Presence::new(TIMEOUT, Some(&dir));
        p.learn(&sink, &naming, ip(), "gate_192_168_1_20", Some("Gate"));
        p.save(false);
    }
    let text = std::fs::read_to_string(dir.join("cameras.json")).unwrap();
    assert!(text.contains("gate_192_168_1_20"), "{text}");
    let sink = Recorder::default();
    let p = Presence::new(TIMEOUT, Some(&dir));
    let t0 = Instant::now();
    p.announce(&sink, &naming);
    let log = sink.take();
    assert_eq!(log.len(), 2, "the two configs, no state yet");
    let v: Value = serde_json::from_slice(&log[0].2).unwrap();
    assert_eq!(v["device"]["name"], "Viewtron Gate");
    // A keepalive (no name): it is the Gate's.
    let wall = SystemTime::now();
    p.tick(
        &sink,
        &naming,
        &[seen(wall, None)],
        t0 + Duration::from_secs(5),
    );
    assert_eq!(
        sink.statuses(),
        [(
            "viewtron/gate_192_168_1_20/connection".to_owned(),
            "online".to_owned()
        )]
    );
    // A known camera that never posts after the restart: offline after a
    // whole timeout, not before.
    let sink = Recorder::default();
    let p = Presence::new(TIMEOUT, Some(&dir));
    p.tick(&sink, &naming, &[], t0 + Duration::from_secs(30));
    assert!(sink.statuses().is_empty());
    p.tick(&sink, &naming, &[], t0 + TIMEOUT + Duration::from_secs(1));
    assert_eq!(sink.statuses().len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
