//! What we publish beyond the vendor's topics, named kind by kind
//! (bridge/README.md, "What it publishes"), so that the compatibility test
//! accepts exactly these and nothing else on a topic the vendor never used.
//! The vendor's own topics are compared in full elsewhere, whatever is here.
//!
//! The kinds:
//! - `viewtron/bridge/<client id>/availability`: `online` / `offline`;
//! - event entities: `homeassistant/event/<id>/<plate|intrusion|face|counting>/config`
//!   and their not-retained messages on `viewtron/<id>/<category>/event`
//!   (JSON with an `event_type` the config declares);
//! - connectivity: `homeassistant/binary_sensor/<id>/connectivity/config`,
//!   `homeassistant/sensor/<id>/last_seen/config`, and their retained state
//!   `viewtron/<id>/connection` (`status` online/offline, `last_seen`);
//! - the vendor's shapes for a camera id the vendor never published (the
//!   posts it ignores, README "Differences from the vendor").

use std::collections::BTreeMap;

use serde_json::Value;

use super::Message;

/// Which of our kinds `topic` is; `None`: not one of ours.
pub fn kind(topic: &str) -> Option<&'static str> {
    let parts: Vec<&str> = topic.split('/').collect();
    let event_object = |o: &str| ["plate", "intrusion", "face", "counting"].contains(&o);
    let event_category = |c: &str| ["lpr", "intrusion", "face", "counting"].contains(&c);
    match parts.as_slice() {
        ["viewtron", "bridge", _, "availability"] => Some("availability"),
        ["homeassistant", "event", _, o, "config"] if event_object(o) => {
            Some("event entity config")
        }
        ["viewtron", _, c, "event"] if event_category(c) => Some("event"),
        ["homeassistant", "binary_sensor", _, "connectivity", "config"]
        | ["homeassistant", "sensor", _, "last_seen", "config"] => Some("connectivity config"),
        ["viewtron", _, "connection"] => Some("connectivity state"),
        ["homeassistant", "sensor", _, "plate" | "plate_authorized" | "counting", "config"]
        | ["homeassistant", "image", _, "overview" | "target", "config"]
        | ["homeassistant", "binary_sensor", _, "intrusion" | "face", "config"] => {
            Some("the vendor's shape, a post it ignores")
        }
        ["viewtron", id, c]
            if *id != "bridge"
                && [
                    "lpr",
                    "intrusion",
                    "face",
                    "counting",
                    "metadata",
                    "overview_image",
                    "target_image",
                ]
                .contains(c) =>
        {
            Some("the vendor's shape, a post it ignores")
        }
        _ => None,
    }
}

/// Checks our messages of the kinds above: retain flags, JSON, event types
/// declared by their entity, devices named after the camera id.
#[derive(Default)]
pub struct Ours {
    /// Event types declared, by state topic.
    declared: BTreeMap<String, Vec<String>>,
    /// Event messages not yet checked against a declaration.
    events: Vec<(String, String)>,
    pub problems: Vec<String>,
    pub counts: BTreeMap<&'static str, usize>,
}

impl Ours {
    /// Looks at one message of ours (one the vendor's list did not take).
    pub fn check(&mut self, m: &Message) {
        let Some(kind) = kind(&m.topic).filter(|k| !k.starts_with("the vendor's")) else {
            return;
        };
        *self.counts.entry(kind).or_default() += 1;
        let json = || serde_json::from_slice::<Value>(&m.payload).ok();
        let mut bad = |what: String| self.problems.push(format!("{}: {what}", m.topic));
        match kind {
            "event entity config" | "connectivity config" => {
                if !m.retain {
                    bad("a discovery config not retained".into());
                }
                let Some(v) = json() else {
                    return bad("discovery config is not JSON".into());
                };
                let id = m.topic.split('/').nth(2).unwrap_or_default();
                let want = format!("viewtron_{id}");
                if v["device"]["identifiers"][0].as_str() != Some(want.as_str()) {
                    bad(format!("device {} is not {want}", v["device"]));
                }
                if v["availability_topic"].as_str().is_none() {
                    bad("no availability_topic".into());
                }
                if kind == "event entity config" {
                    let types = v["event_types"].as_array().cloned().unwrap_or_default();
                    let types: Vec<String> = types
                        .iter()
                        .filter_map(|t| t.as_str().map(str::to_owned))
                        .collect();
                    if types.is_empty() {
                        bad("no event_types".into());
                    }
                    let state = v["state_topic"].as_str().unwrap_or_default().to_owned();
                    self.declared.insert(state, types);
                }
            }
            "event" => {
                if m.retain {
                    bad("an event message retained (it would fire again)".into());
                }
                match json().and_then(|v| v["event_type"].as_str().map(str::to_owned)) {
                    Some(t) => self.events.push((m.topic.clone(), t)),
                    None => bad("no event_type".into()),
                }
            }
            "connectivity state" => {
                let ok = json().is_some_and(|v| {
                    matches!(v["status"].as_str(), Some("online" | "offline"))
                        && v["last_seen"]
                            .as_str()
                            .is_some_and(|s| s.ends_with("+00:00"))
                });
                if !m.retain || !ok {
                    bad(format!(
                        "retain {}, payload {}",
                        m.retain,
                        String::from_utf8_lossy(&m.payload)
                    ));
                }
            }
            _ => {}
        }
    }

    /// The problems, once every message has been seen (an event may arrive
    /// before its entity's config only if the config was never sent).
    pub fn finish(mut self) -> (Vec<String>, BTreeMap<&'static str, usize>) {
        for (topic, t) in std::mem::take(&mut self.events) {
            match self.declared.get(&topic) {
                Some(types) if types.contains(&t) => {}
                Some(types) => self
                    .problems
                    .push(format!("{topic}: event type {t:?} not among {types:?}")),
                None => self
                    .problems
                    .push(format!("{topic}: an event without an entity config")),
            }
        }
        (self.problems, self.counts)
    }
}

#[test]
fn kinds() {
    assert_eq!(kind("viewtron/bridge/x/availability"), Some("availability"));
    assert_eq!(kind("viewtron/gate_127_0_0_1/lpr/event"), Some("event"));
    assert_eq!(
        kind("viewtron/gate_127_0_0_1/connection"),
        Some("connectivity state")
    );
    assert_eq!(kind("viewtron/gate_127_0_0_1/metadata/event"), None);
    assert_eq!(kind("homeassistant/switch/x/y/config"), None);
    assert_eq!(kind("viewtron/bridge/lpr"), None);
}
