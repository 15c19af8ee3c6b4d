//! Drop-in compatibility, diffed against the real thing.
//!
//! `golden/vendor-capture.json` is what the vendor's Python bridge published
//! (MQTT messages as a subscriber saw them, webhook requests as a receiver got
//! them) when every fixture in `tests/fixtures` (and in its subfolders, such as
//! the unusual camera names of `names/`) was posted to it twice; it was
//! recorded by `bridge/compat/capture.sh` from the vendor's own code. This test
//! replays the same posts, in the same order, from the same camera addresses,
//! under the same `TZ`, into our `viewtron-bridge` with the same configuration,
//! through a real mosquitto, and checks the contract a Home Assistant user
//! relies on:
//!
//! - every message the vendor published, we publish on the same topic, with
//!   the same retain flag and at least its QoS;
//! - every JSON key it sent is present and equal (objects recursively; extra
//!   keys are allowed); JPEG payloads are byte-equal;
//! - where it stamped its own clock, our stamp has the same format; where it
//!   saved an image, we name the file the same way and it holds the same bytes;
//! - every webhook it sent, we send to the same path with the same JSON;
//! - every topic it left retained on the broker, we leave retained.
//!
//! Extra keys and messages are allowed (that is where our additions live);
//! a topic the vendor never used must be one of ours, named kind by kind in
//! `compat_support/ours.rs` (availability, event entities, connectivity, the
//! vendor's shapes for posts it ignores), and those messages are checked
//! for what they are. A difference prints one readable line per message.
//! Deliberate differences (vendor bugs we do not copy) are listed in the
//! README.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

mod compat_support;
use compat_support::diff::{diff_json, diff_message, rules};
use compat_support::ours::{self, Ours};
use compat_support::*;

/// How long one post's messages may take to arrive before we call them missing
/// (once something went missing, later posts get `SHORT_DEADLINE`, so a broken
/// bridge fails in seconds rather than minutes; so do the posts where we
/// differ on purpose, whose wait runs out by design).
const POST_DEADLINE: Duration = Duration::from_secs(10);
const SHORT_DEADLINE: Duration = Duration::from_secs(3);

/// A difference we make on purpose: a vendor bug we do not copy, listed in
/// bridge/README.md ("Differences from the vendor") with the same reason. A
/// reported line for `fixture` (both rounds) that contains one of `lines` is
/// accepted; a line of the list that matches nothing fails the test, so the
/// list cannot go stale.
struct Intentional {
    fixture: &'static str,
    lines: &'static [&'static str],
    why: &'static str,
}

const INTENTIONAL: &[Intentional] = &[
    Intentional {
        fixture: "v1-lpr-vehicle.xml",
        lines: &[
            r#".plate_number: ours "DN 3301 K", vendor "RB-558-QZ""#,
            r#".plate_status: ours "whiteList", vendor "Unknown""#,
            "holds 163 bytes, not the 161 the vendor published",
            "overview_image: payload 163 bytes",
        ],
        why: "two plate items and the overview in sourceDataInfo: the vendor takes item 1 \
              as the plate and item 0's crop as the overview; ours the first plate and the \
              real overview",
    },
    Intentional {
        fixture: "v1-lpr-single-item.xml",
        lines: &[
            "holds 164 bytes, not the 161 the vendor published",
            "overview_image: payload 164 bytes",
        ],
        why: "one plate item and the overview in sourceDataInfo: the vendor publishes the \
              plate crop as the overview; ours the overview",
    },
    Intentional {
        fixture: "v1-lpr-no-plate-read.xml",
        lines: &["target_image: missing"],
        why: "no plate read: the vendor publishes the overview as the plate crop too; ours \
              publishes no crop that is none",
    },
];

#[test]
fn vendor_topics_keys_retain_and_webhooks_are_reproduced() {
    require_mosquitto();
    let golden: Value = serde_json::from_str(include_str!("golden/vendor-capture.json"))
        .expect("golden/vendor-capture.json is JSON");
    let tz = golden["tz"].as_str().expect("golden tz");
    let camera_ip = golden["camera_ip"].as_str().expect("golden camera_ip");
    assert_eq!(
        camera_ip, "127.0.0.1",
        "this test posts from 127.0.0.1; recapture with CAMERA_IP=127.0.0.1"
    );
    let posts = golden["posts"].as_array().expect("golden posts");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    // A fixture added since the capture would go untested: recapture.
    let captured: BTreeSet<&str> = posts.iter().filter_map(|p| p["fixture"].as_str()).collect();
    let mut on_disk = BTreeSet::new();
    xml_files(&fixtures, "", &mut on_disk);
    let uncaptured: Vec<&String> = on_disk
        .iter()
        .filter(|n| !captured.contains(n.as_str()))
        .collect();
    assert!(
        uncaptured.is_empty(),
        "fixtures not in the vendor capture: {uncaptured:?}; regenerate it with \
         bash bridge/compat/capture.sh PATH-TO-VENDOR-BRIDGE"
    );

    let dir = TempDir::new("compat");
    let broker = Broker::start(&dir);
    let sub = Subscriber::start(&broker, "compat-sub");
    let hooks = WebhookReceiver::start();

    let bridge_port = free_port();
    let config = golden["config"]
        .as_str()
        .expect("golden config")
        .replace("<bridge_port>", &bridge_port.to_string())
        .replace("<mqtt_port>", &broker.port.to_string())
        .replace("<webhook_port>", &hooks.port.to_string())
        // Ours only: listen on loopback alone (the vendor's bridge has no such
        // setting and ignores unknown keys), and believe X-Forwarded-For from
        // 127.0.0.1, which is how the posts of cameras at other loopback
        // addresses reach ours (see `post_like_a_camera`).
        + "server:\n  bind: 127.0.0.1\n  trusted_proxies: [127.0.0.1]\n";
    let config_path = dir.path().join("config.yaml");
    fs::write(&config_path, &config).expect("write config.yaml");
    let log_path = dir.path().join("bridge.log");
    let mut bridge = Bridge::start(&config_path, tz, &log_path);
    broker.wait_for_client(&mut bridge, &log_path);
    wait_for_port(bridge_port, &mut bridge, &log_path);

    let mut report = Report::default();
    let mut pools = Pools::new(sub.messages, hooks.requests);
    for post in posts {
        let name = post["fixture"].as_str().expect("fixture name");
        let round = post["round"].as_u64().unwrap_or(1);
        let body = fs::read(fixtures.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        // The address the vendor saw this post come from (the capture names
        // it where it is not the default one).
        let from = post["camera_ip"].as_str().unwrap_or(camera_ip);
        let declared = declared_address(&body);
        assert_eq!(
            from,
            declared.as_deref().unwrap_or(camera_ip),
            "{name}: captured from {from}, but its camera address comment says otherwise; \
             regenerate the capture with bash bridge/compat/capture.sh PATH-TO-VENDOR-BRIDGE"
        );
        let status = post_like_a_camera(bridge_port, &body, from);
        let context = format!("{name} (round {round})");
        if status != 200 {
            report.add(&context, format!("camera answered {status}, vendor 200"));
        }
        // Where we differ on purpose the wait runs out by design: keep it short.
        let known = INTENTIONAL.iter().any(|k| k.fixture == name);
        let deadline = if pools.missed || known {
            SHORT_DEADLINE
        } else {
            POST_DEADLINE
        };
        let complete = pools.settle(&Expected::new(post), deadline, &context, &mut report);
        pools.missed |= !complete && !known;
        bridge.check_alive(&log_path);
    }

    // What stays on the broker for Home Assistant's next start.
    let retained = broker.retained_topics();
    for topic in golden["retained_at_end"].as_array().expect("retained list") {
        let topic = topic.as_str().expect("topic");
        if !retained.contains(topic) {
            report.add(
                "broker at the end",
                format!("{topic}: vendor left it retained, ours not"),
            );
        }
    }

    let vendor_topics: BTreeSet<&str> = posts
        .iter()
        .flat_map(|p| p["mqtt"].as_array().into_iter().flatten())
        .filter_map(|m| m["topic"].as_str())
        .collect();
    let extra: BTreeSet<&String> = pools
        .all_topics
        .iter()
        .filter(|t| !vendor_topics.contains(t.as_str()))
        .collect();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for topic in &extra {
        match ours::kind(topic) {
            Some(kind) => *kinds.entry(kind).or_default() += 1,
            None => report.add(
                "topics beyond the vendor's",
                format!("{topic}: not one of ours (compat_support/ours.rs)"),
            ),
        }
    }
    let (problems, counts) = std::mem::take(&mut pools.ours).finish();
    for problem in problems {
        report.add("our additions", problem);
    }
    eprintln!(
        "compat: {} posts replayed; {} topics beyond the vendor's, by kind: {kinds:?}; \
         our additions' messages by kind: {counts:?}",
        posts.len(),
        extra.len(),
    );
    report.finish(&log_path);
}

/// The `*.xml` files under `dir`, subfolders included, as paths relative to
/// `dir` with `/` (`names/v1-lpr-cjk.xml`), the way the capture names them.
fn xml_files(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let entry = entry.expect("directory entry");
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let path = entry.path();
        if path.is_dir() {
            xml_files(&path, &format!("{prefix}{name}/"), out);
        } else if name.ends_with(".xml") {
            out.insert(format!("{prefix}{name}"));
        }
    }
}

/// The address a fixture asks to be posted from, in a
/// `<!-- camera address: 127.0.0.N -->` comment (`bridge/compat/fixtures.py`
/// reads it for the capture).
fn declared_address(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let rest = &text[text.find("<!-- camera address:")? + "<!-- camera address:".len()..];
    Some(rest[..rest.find("-->")?].trim().to_owned())
}

/// Everything ours sent so far and not yet matched to one of the vendor's:
/// ours sends from background threads, so a webhook may arrive after the next
/// post, and a post the vendor ignored may leave extra messages around.
struct Pools {
    messages: Receiver<Message>,
    hooks: Receiver<Hook>,
    mqtt: Vec<Message>,
    webhooks: Vec<Hook>,
    all_topics: BTreeSet<String>,
    /// Our additions, checked as they arrive.
    ours: Ours,
    /// A deadline passed with something still unmatched.
    missed: bool,
}

/// One post of the capture: what the vendor sent for it.
struct Expected<'a> {
    mqtt: &'a [Value],
    hooks: &'a [Value],
    /// The image bytes it published, by payload key (`overview_image`...).
    images: BTreeMap<&'static str, Vec<u8>>,
}

impl<'a> Expected<'a> {
    fn new(post: &'a Value) -> Expected<'a> {
        let mqtt = post["mqtt"].as_array().expect("mqtt list");
        let mut images = BTreeMap::new();
        for key in ["overview_image", "target_image"] {
            let found = mqtt.iter().find(|m| {
                m["topic"]
                    .as_str()
                    .is_some_and(|t| t.ends_with(&format!("/{key}")))
            });
            if let Some(hex) = found.and_then(|m| m["bytes_hex"].as_str()) {
                images.insert(key, unhex(hex));
            }
        }
        Expected {
            mqtt,
            hooks: post["webhooks"].as_array().expect("webhooks list"),
            images,
        }
    }

    fn image(&self, key: &str) -> Option<&[u8]> {
        self.images.get(key).map(Vec::as_slice)
    }

    fn diff_mqtt(&self, want: &Value, got: &Message) -> Vec<String> {
        diff_message(want, got, &|k: &str| self.image(k).map(<[u8]>::to_vec))
    }

    fn diff_hook(&self, want: &Value, got: &Hook) -> Vec<String> {
        let mut diffs = Vec::new();
        if !got.content_type.starts_with("application/json") {
            diffs.push(format!(
                "Content-Type {:?}, vendor application/json",
                got.content_type
            ));
        }
        let images = |k: &str| self.image(k).map(<[u8]>::to_vec);
        match serde_json::from_slice::<Value>(&got.body) {
            Ok(v) => diff_json("", &want["json"], &v, rules(want), &images, &mut diffs),
            Err(e) => diffs.push(format!("body is not JSON ({e})")),
        }
        diffs
    }

    /// For each of the vendor's messages and webhooks, an equal one of ours
    /// (indexes into the pools), each used once.
    fn exact(&self, pools: &Pools) -> (Vec<Option<usize>>, Vec<Option<usize>>) {
        let mut used = BTreeSet::new();
        let mqtt = self
            .mqtt
            .iter()
            .map(|want| {
                let topic = want["topic"].as_str().unwrap_or_default();
                let i = (0..pools.mqtt.len()).find(|i| {
                    !used.contains(i)
                        && pools.mqtt[*i].topic == topic
                        && self.diff_mqtt(want, &pools.mqtt[*i]).is_empty()
                })?;
                used.insert(i);
                Some(i)
            })
            .collect();
        used.clear();
        let hooks = self
            .hooks
            .iter()
            .map(|want| {
                let path = want["path"].as_str().unwrap_or_default();
                let i = (0..pools.webhooks.len()).find(|i| {
                    !used.contains(i)
                        && pools.webhooks[*i].path == path
                        && self.diff_hook(want, &pools.webhooks[*i]).is_empty()
                })?;
                used.insert(i);
                Some(i)
            })
            .collect();
        (mqtt, hooks)
    }
}

impl Pools {
    fn new(messages: Receiver<Message>, hooks: Receiver<Hook>) -> Pools {
        Pools {
            messages,
            hooks,
            mqtt: Vec::new(),
            webhooks: Vec::new(),
            all_topics: BTreeSet::new(),
            ours: Ours::default(),
            missed: false,
        }
    }

    fn receive(&mut self, wait: Duration) {
        match self.messages.recv_timeout(wait) {
            Ok(m) => self.add(m),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => panic!("the MQTT subscriber stopped"),
        }
        while let Ok(m) = self.messages.try_recv() {
            self.add(m);
        }
        while let Ok(h) = self.hooks.try_recv() {
            self.webhooks.push(h);
        }
    }

    fn add(&mut self, m: Message) {
        self.ours.check(&m);
        self.all_topics.insert(m.topic.clone());
        self.mqtt.push(m);
    }

    /// Receives until each of the vendor's messages and webhooks for this
    /// post has an equal one of ours, or the deadline passes; then takes the
    /// equal ones out of the pools and, for the rest, the closest of ours on
    /// the same topic or path, reporting how it differs (or that none came).
    /// True when everything matched.
    fn settle(
        &mut self,
        expected: &Expected,
        deadline: Duration,
        context: &str,
        report: &mut Report,
    ) -> bool {
        let end = Instant::now() + deadline;
        let (mqtt, hooks) = loop {
            let (mqtt, hooks) = expected.exact(self);
            let complete = mqtt.iter().chain(&hooks).all(Option::is_some);
            let now = Instant::now();
            if complete || now >= end {
                break (mqtt, hooks);
            }
            self.receive((end - now).min(Duration::from_millis(20)));
        };
        let mut taken: Vec<usize> = mqtt.iter().flatten().copied().collect();
        taken.sort_unstable_by(|a, b| b.cmp(a));
        for i in taken {
            self.mqtt.remove(i);
        }
        let mut taken: Vec<usize> = hooks.iter().flatten().copied().collect();
        taken.sort_unstable_by(|a, b| b.cmp(a));
        for i in taken {
            self.webhooks.remove(i);
        }
        for (want, _) in expected.mqtt.iter().zip(&mqtt).filter(|(_, m)| m.is_none()) {
            let topic = want["topic"].as_str().unwrap_or_default();
            match take_closest(
                &mut self.mqtt,
                |m| m.topic == topic,
                |m| expected.diff_mqtt(want, m),
            ) {
                None => report.add(
                    context,
                    format!(
                        "{topic}: missing (vendor published it, retain={})",
                        want["retain"]
                    ),
                ),
                Some(diffs) => {
                    for d in diffs {
                        report.add(context, format!("{topic}: {d}"));
                    }
                }
            }
        }
        for (want, _) in expected
            .hooks
            .iter()
            .zip(&hooks)
            .filter(|(_, h)| h.is_none())
        {
            let path = want["path"].as_str().unwrap_or_default();
            match take_closest(
                &mut self.webhooks,
                |h| h.path == path,
                |h| expected.diff_hook(want, h),
            ) {
                None => report.add(context, format!("webhook POST {path}: missing")),
                Some(diffs) => {
                    for d in diffs {
                        report.add(context, format!("webhook {path}: {d}"));
                    }
                }
            }
        }
        mqtt.iter().chain(&hooks).all(Option::is_some)
    }
}

/// Removes from `pool` the item that `fits` with the fewest differences and
/// returns them; None when nothing fits.
fn take_closest<T>(
    pool: &mut Vec<T>,
    fits: impl Fn(&T) -> bool,
    diff: impl Fn(&T) -> Vec<String>,
) -> Option<Vec<String>> {
    let (i, diffs) = pool
        .iter()
        .enumerate()
        .filter(|(_, item)| fits(item))
        .map(|(i, item)| (i, diff(item)))
        .min_by_key(|(_, diffs)| diffs.len())?;
    pool.remove(i);
    Some(diffs)
}

/// Differences, grouped by post, printed readably at the end.
#[derive(Default)]
struct Report {
    lines: Vec<(String, String)>,
}

impl Report {
    fn add(&mut self, context: &str, line: String) {
        self.lines.push((context.to_owned(), line));
    }

    fn finish(self, log: &Path) {
        let mut used = BTreeSet::new();
        let mut text = String::new();
        let mut count = 0;
        let mut last = "";
        for (context, line) in &self.lines {
            let known = INTENTIONAL.iter().enumerate().find_map(|(i, k)| {
                let j = k.lines.iter().position(|l| line.contains(l))?;
                context.starts_with(k.fixture).then_some((i, j))
            });
            if let Some((i, j)) = known {
                used.insert((i, j));
                eprintln!(
                    "compat: intentional: {context}: {line} ({})",
                    INTENTIONAL[i].why
                );
                continue;
            }
            if context != last {
                text += &format!("  {context}:\n");
                last = context;
            }
            text += &format!("    {line}\n");
            count += 1;
        }
        for (i, k) in INTENTIONAL.iter().enumerate() {
            for (j, line) in k.lines.iter().enumerate() {
                if !used.contains(&(i, j)) {
                    text += &format!(
                        "  stale INTENTIONAL line (nothing matches it any more): {} / {line:?}\n",
                        k.fixture
                    );
                    count += 1;
                }
            }
        }
        if count == 0 {
            return;
        }
        let log = fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        text += "  bridge log (last lines):\n";
        for line in tail.iter().rev() {
            text += &format!("    | {line}\n");
        }
        panic!(
            "{count} differences from the vendor's bridge \
             (bridge/tests/golden/vendor-capture.json):\n{text}"
        );
    }
}
