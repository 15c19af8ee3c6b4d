//! Drop-in compatibility, diffed against the real thing.
//!
//! `golden/vendor-capture.json` is what the vendor's Python bridge published
//! (MQTT messages as a subscriber saw them, webhook requests as a receiver got
//! them) when every fixture in `tests/fixtures` was posted to it twice; it was
//! recorded by `bridge/compat/capture.sh` from the vendor's own code. This test
//! replays the same posts, in the same order, from the same camera address,
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
//! Extra topics, keys and messages are allowed (that is where our additions
//! live); a difference prints one readable line per message. Deliberate
//! differences (vendor bugs we do not copy) are listed in the README.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

mod compat_support;
use compat_support::*;

/// How long one post's messages may take to arrive before we call them missing
/// (once something went missing, later posts get `SHORT_DEADLINE`, so a broken
/// bridge fails in seconds rather than minutes).
const POST_DEADLINE: Duration = Duration::from_secs(10);
const SHORT_DEADLINE: Duration = Duration::from_secs(2);

/// A difference we make on purpose: a vendor bug we do not copy. Each one is
/// in the README's list of differences with the same reason. A reported line
/// for `fixture` (both rounds) that contains `what` is accepted; an entry that
/// matches nothing fails the test, so the list cannot go stale.
struct Intentional {
    fixture: &'static str,
    what: &'static str,
    why: &'static str,
}

const INTENTIONAL: &[Intentional] = &[];

#[test]
fn vendor_topics_keys_retain_and_webhooks_are_reproduced() {
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
    let on_disk: BTreeSet<String> = fs::read_dir(&fixtures)
        .expect("tests/fixtures")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".xml"))
        .collect();
    let uncaptured: Vec<&String> = on_disk.iter().filter(|n| !captured.contains(n.as_str())).collect();
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
        // setting and ignores unknown keys).
        + "server:\n  bind: 127.0.0.1\n";
    let config_path = dir.path().join("config.yaml");
    fs::write(&config_path, &config).expect("write config.yaml");
    let log_path = dir.path().join("bridge.log");
    let mut bridge = Bridge::start(&config_path, tz, &log_path);
    broker.wait_for_client(&mut bridge, &log_path);
    wait_for_port(bridge_port, &mut bridge, &log_path);

    let mut report = Report::default();
    let mut collector = Collector::new(sub.messages, hooks.requests);
    for post in posts {
        let name = post["fixture"].as_str().expect("fixture name");
        let round = post["round"].as_u64().unwrap_or(1);
        let want_mqtt = post["mqtt"].as_array().expect("mqtt list");
        let want_hooks = post["webhooks"].as_array().expect("webhooks list");
        let body = fs::read(fixtures.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let status = post_like_a_camera(bridge_port, &body);
        let context = format!("{name} (round {round})");
        if status != 200 {
            report.add(&context, format!("camera answered {status}, vendor 200"));
        }
        let deadline = if collector.missed { SHORT_DEADLINE } else { POST_DEADLINE };
        let (got_mqtt, got_hooks) = collector.gather(want_mqtt, want_hooks, deadline);
        compare_post(&context, want_mqtt, want_hooks, got_mqtt, got_hooks, &mut report);
        bridge.check_alive(&log_path);
    }

    // What stays on the broker for Home Assistant's next start.
    let retained = broker.retained_topics();
    for topic in golden["retained_at_end"].as_array().expect("retained list") {
        let topic = topic.as_str().expect("topic");
        if !retained.contains(topic) {
            report.add("broker at the end", format!("{topic}: vendor left it retained, ours not"));
        }
    }

    let vendor_topics: BTreeSet<&str> = posts
        .iter()
        .flat_map(|p| p["mqtt"].as_array().into_iter().flatten())
        .filter_map(|m| m["topic"].as_str())
        .collect();
    let extra: BTreeSet<&String> = collector
        .all_topics
        .iter()
        .filter(|t| !vendor_topics.contains(t.as_str()))
        .collect();
    eprintln!(
        "compat: {} posts replayed; {} topics beyond the vendor's (allowed): {:?}",
        posts.len(),
        extra.len(),
        extra
    );
    report.finish(&log_path);
}

/// Compares one post's messages and webhooks with the vendor's.
fn compare_post(
    context: &str,
    want_mqtt: &[Value],
    want_hooks: &[Value],
    mut got_mqtt: Vec<Message>,
    mut got_hooks: Vec<Hook>,
    report: &mut Report,
) {
    // Image bytes the vendor published for this post, by image key.
    let image_bytes = |key: &str| -> Option<Vec<u8>> {
        want_mqtt
            .iter()
            .find(|m| m["topic"].as_str().is_some_and(|t| t.ends_with(&format!("/{key}"))))
            .and_then(|m| m["bytes_hex"].as_str())
            .map(unhex)
    };
    for want in want_mqtt {
        let topic = want["topic"].as_str().expect("topic");
        let candidates: Vec<usize> = (0..got_mqtt.len())
            .filter(|&i| got_mqtt[i].topic == topic)
            .collect();
        let Some(&first) = candidates.first() else {
            report.add(
                context,
                format!("{topic}: missing (vendor published it, retain={})", want["retain"]),
            );
            continue;
        };
        let mut best: Option<Vec<String>> = None;
        let mut matched = None;
        for &i in &candidates {
            let diffs = diff_message(want, &got_mqtt[i], &image_bytes);
            if diffs.is_empty() {
                matched = Some(i);
                break;
            }
            if i == first {
                best = Some(diffs);
            }
        }
        match matched {
            // One of ours answers one of theirs: a repeat must be repeated.
            Some(i) => drop(got_mqtt.remove(i)),
            None => {
                for d in best.unwrap_or_default() {
                    report.add(context, format!("{topic}: {d}"));
                }
                got_mqtt.remove(first);
            }
        }
    }
    for want in want_hooks {
        let path = want["path"].as_str().expect("webhook path");
        let Some(i) = got_hooks.iter().position(|h| h.path == path) else {
            report.add(context, format!("webhook POST {path}: missing"));
            continue;
        };
        let hook = got_hooks.remove(i);
        if !hook.content_type.starts_with("application/json") {
            report.add(
                context,
                format!("webhook {path}: Content-Type {:?}, vendor application/json", hook.content_type),
            );
        }
        match serde_json::from_slice::<Value>(&hook.body) {
            Ok(got) => {
                let mut diffs = Vec::new();
                diff_json("", &want["json"], &got, rules(want), &image_bytes, &mut diffs);
                for d in diffs {
                    report.add(context, format!("webhook {path}: {d}"));
                }
            }
            Err(e) => report.add(context, format!("webhook {path}: body is not JSON ({e})")),
        }
    }
}

fn rules(want: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    want["rules"].as_object().unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// The differences between one vendor message and one of ours (empty: equal
/// for a Home Assistant user).
fn diff_message(
    want: &Value,
    got: &Message,
    image_bytes: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Vec<String> {
    let mut diffs = Vec::new();
    let retain = want["retain"].as_bool().expect("retain");
    if got.retain != retain {
        diffs.push(format!("retain {}, vendor {retain}", got.retain));
    }
    let qos = want["qos"].as_u64().expect("qos");
    if u64::from(got.qos) < qos {
        diffs.push(format!("QoS {}, vendor {qos}", got.qos));
    }
    if let Some(hex) = want["bytes_hex"].as_str() {
        let bytes = unhex(hex);
        if got.payload != bytes {
            diffs.push(format!(
                "payload {} bytes ({}), vendor {} bytes ({})",
                got.payload.len(),
                short_hex(&got.payload),
                bytes.len(),
                short_hex(&bytes)
            ));
        }
    } else {
        match serde_json::from_slice::<Value>(&got.payload) {
            Ok(value) => diff_json("", &want["json"], &value, rules(want), image_bytes, &mut diffs),
            Err(e) => diffs.push(format!(
                "payload is not JSON ({e}): {}",
                String::from_utf8_lossy(&got.payload)
            )),
        }
    }
    diffs
}

/// Every key of `want` present in `got` and equal, recursively into objects;
/// `rules` name the top-level keys compared by format instead of value.
fn diff_json(
    at: &str,
    want: &Value,
    got: &Value,
    rules: &Map<String, Value>,
    image_bytes: &dyn Fn(&str) -> Option<Vec<u8>>,
    diffs: &mut Vec<String>,
) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (key, wv) in w {
                let here = format!("{at}.{key}");
                let Some(gv) = g.get(key) else {
                    diffs.push(format!("{here}: missing, vendor {wv}"));
                    continue;
                };
                match (at.is_empty(), rules.get(key).and_then(Value::as_str)) {
                    (true, Some("wallclock")) => check_wallclock(&here, wv, gv, diffs),
                    (true, Some("image_path")) => check_image(&here, key, wv, gv, image_bytes, diffs),
                    _ => diff_json(&here, wv, gv, rules, image_bytes, diffs),
                }
            }
        }
        _ if want == got => {}
        _ => diffs.push(format!("{}: ours {got}, vendor {want}", if at.is_empty() { "payload" } else { at })),
    }
}

/// A stamp the vendor took from its own clock: the same format (`YYYY-MM-DD
/// HH:MM:SS`, with `.ffffff` when the vendor's had it).
fn check_wallclock(at: &str, want: &Value, got: &Value, diffs: &mut Vec<String>) {
    let pattern = want.as_str().unwrap_or_default();
    let ok = got.as_str().is_some_and(|s| matches_digits(s, pattern));
    if !ok {
        diffs.push(format!("{at}: ours {got}, vendor's format \"{pattern}\""));
    }
}

/// `pattern` with every one of `YmdHMSf` standing for one ASCII digit.
fn matches_digits(s: &str, pattern: &str) -> bool {
    s.len() == pattern.len()
        && s.bytes().zip(pattern.bytes()).all(|(c, p)| match p {
            b'Y' | b'M' | b'D' | b'H' | b'S' | b'f' | b'm' | b'd' => c.is_ascii_digit(),
            _ => c == p,
        })
}

/// A saved image: `<folder>/YYYYmmdd_HHMMSS_<type>_<kind>.jpg` as the vendor
/// names it, and the file holds the bytes the vendor published for it.
fn check_image(
    at: &str,
    key: &str,
    want: &Value,
    got: &Value,
    image_bytes: &dyn Fn(&str) -> Option<Vec<u8>>,
    diffs: &mut Vec<String>,
) {
    let want_name = want
        .as_str()
        .and_then(|s| s.rsplit('/').next())
        .unwrap_or_default();
    let Some(path) = got.as_str().map(Path::new) else {
        diffs.push(format!("{at}: ours {got}, vendor a path like {want}"));
        return;
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    // The stamp part by format, the event type and image kind as they are.
    let (stamp, rest) = want_name.split_at(want_name.len().min(16));
    let named_alike = name.len() == want_name.len()
        && name.is_char_boundary(16)
        && matches_digits(&name[..16], stamp)
        && &name[16..] == rest;
    if !path.is_absolute() || !named_alike {
        diffs.push(format!("{at}: ours {got}, vendor an absolute path named like {want_name}"));
        return;
    }
    match (fs::read(path), image_bytes(key)) {
        (Err(e), _) => diffs.push(format!("{at}: {} cannot be read: {e}", path.display())),
        (Ok(bytes), Some(published)) if bytes != published => diffs.push(format!(
            "{at}: {} holds {} bytes, not the {} the vendor published",
            path.display(),
            bytes.len(),
            published.len()
        )),
        _ => {}
    }
}

/// Collects the subscriber's messages and the receiver's webhooks post by post.
struct Collector {
    messages: Receiver<Message>,
    hooks: Receiver<Hook>,
    all_topics: BTreeSet<String>,
    /// A deadline passed with something still missing.
    missed: bool,
}

impl Collector {
    fn new(messages: Receiver<Message>, hooks: Receiver<Hook>) -> Collector {
        Collector {
            messages,
            hooks,
            all_topics: BTreeSet::new(),
            missed: false,
        }
    }

    /// Everything that arrives until each topic and webhook path the vendor
    /// produced for this post has arrived as often (or the deadline passes).
    fn gather(&mut self, mqtt: &[Value], hooks: &[Value], deadline: Duration) -> (Vec<Message>, Vec<Hook>) {
        let need = |list: &[Value], key: &str| -> Vec<String> {
            list.iter().filter_map(|v| v[key].as_str().map(str::to_owned)).collect()
        };
        let mut topics = need(mqtt, "topic");
        let mut paths = need(hooks, "path");
        let (mut got_mqtt, mut got_hooks) = (Vec::new(), Vec::new());
        let end = Instant::now() + deadline;
        loop {
            while let Ok(m) = self.messages.try_recv() {
                if let Some(i) = topics.iter().position(|t| *t == m.topic) {
                    topics.remove(i);
                }
                self.all_topics.insert(m.topic.clone());
                got_mqtt.push(m);
            }
            while let Ok(h) = self.hooks.try_recv() {
                if let Some(i) = paths.iter().position(|p| *p == h.path) {
                    paths.remove(i);
                }
                got_hooks.push(h);
            }
            let now = Instant::now();
            let complete = topics.is_empty() && paths.is_empty();
            if complete || now >= end {
                self.missed |= !complete;
                return (got_mqtt, got_hooks);
            }
            // Block on the MQTT side (the busier one) for a short while.
            match self.messages.recv_timeout((end - now).min(Duration::from_millis(20))) {
                Ok(m) => {
                    if let Some(i) = topics.iter().position(|t| *t == m.topic) {
                        topics.remove(i);
                    }
                    self.all_topics.insert(m.topic.clone());
                    got_mqtt.push(m);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => panic!("the MQTT subscriber stopped"),
            }
        }
    }
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
        let mut used = vec![false; INTENTIONAL.len()];
        let mut text = String::new();
        let mut count = 0;
        let mut last = "";
        for (context, line) in &self.lines {
            let known = INTENTIONAL
                .iter()
                .position(|k| context.starts_with(k.fixture) && line.contains(k.what));
            if let Some(i) = known {
                used[i] = true;
                eprintln!("compat: intentional: {context}: {line} ({})", INTENTIONAL[i].why);
                continue;
            }
            if context != last {
                text += &format!("  {context}:\n");
                last = context;
            }
            text += &format!("    {line}\n");
            count += 1;
        }
        for (k, used) in INTENTIONAL.iter().zip(used) {
            if !used {
                text += &format!(
                    "  stale INTENTIONAL entry (nothing matches it any more): {} / {:?}\n",
                    k.fixture, k.what
                );
                count += 1;
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

/// One MQTT message as the subscriber saw it (retain as published).
struct Message {
    topic: String,
    qos: u8,
    retain: bool,
    payload: Vec<u8>,
}

/// One webhook request as the receiver got it.
struct Hook {
    path: String,
    content_type: String,
    body: Vec<u8>,
}

/// `mosquitto_sub` over MQTT 5 with retain-as-published, so the retain flag
/// the bridge set is visible on live messages.
struct Subscriber {
    _child: Kill,
    messages: Receiver<Message>,
}

impl Subscriber {
    fn start(broker: &Broker, id: &str) -> Subscriber {
        let mut child = Command::new(tool("mosquitto_sub"))
            .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-i", id])
            .args(["-V", "5", "-q", "2", "--retain-as-published", "-t", "#"])
            .args(["-F", "%r %q %t %x"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto_sub");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        thread::spawn(move || read_messages(stdout, tx));
        // Ready when it sees our own probe.
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            assert!(Instant::now() < end, "mosquitto_sub never saw a probe message");
            let _ = Command::new(tool("mosquitto_pub"))
                .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-i", "compat-probe"])
                .args(["-t", "compat/probe", "-n"])
                .status();
            if let Ok(m) = rx.recv_timeout(Duration::from_millis(200)) {
                if m.topic == "compat/probe" {
                    while rx.try_recv().is_ok() {}
                    break;
                }
            }
        }
        Subscriber { _child: Kill(child), messages: rx }
    }
}

fn read_messages(stdout: impl Read, tx: Sender<Message>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { return };
        let mut parts = line.splitn(4, ' ');
        let (Some(retain), Some(qos), Some(topic)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let message = Message {
            topic: topic.to_owned(),
            qos: qos.parse().unwrap_or(0),
            retain: retain == "1",
            payload: unhex(parts.next().unwrap_or_default()),
        };
        if tx.send(message).is_err() {
            return;
        }
    }
}

/// A loopback HTTP server that records every request (Home Assistant's side
/// of a webhook) and answers 200.
struct WebhookReceiver {
    port: u16,
    requests: Receiver<Hook>,
}

impl WebhookReceiver {
    fn start() -> WebhookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind webhook receiver");
        let port = listener.local_addr().expect("addr").port();
        let (tx, rx) = channel();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let tx = tx.clone();
                thread::spawn(move || serve_webhooks(stream, tx));
            }
        });
        WebhookReceiver { port, requests: rx }
    }
}

fn serve_webhooks(stream: TcpStream, tx: Sender<Hook>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    while let Some(hook) = read_request(&mut reader) {
        let _ = writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        if tx.send(hook).is_err() {
            return;
        }
    }
}
