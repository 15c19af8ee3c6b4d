//! Comparing one of our messages with one of the vendor's as a Home
//! Assistant user would: every key the vendor sent present and equal (extra
//! keys allowed), its own clock's stamps by format, saved images by name and
//! bytes, JPEG payloads byte for byte.

use std::fs;
use std::path::Path;

use serde_json::{Map, Value};

use super::{short_hex, unhex, Message};

/// The vendor message's comparison rules (`wallclock`, `image_path`) by
/// top-level key.
pub fn rules(want: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    want["rules"]
        .as_object()
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// The differences between one vendor message and one of ours (empty: equal
/// for a Home Assistant user).
pub fn diff_message(
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
            Ok(value) => diff_json(
                "",
                &want["json"],
                &value,
                rules(want),
                image_bytes,
                &mut diffs,
            ),
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
pub fn diff_json(
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
                    (true, Some("image_path")) => {
                        check_image(&here, key, wv, gv, image_bytes, diffs)
                    }
                    _ => diff_json(&here, wv, gv, rules, image_bytes, diffs),
                }
            }
        }
        _ if want == got => {}
        _ => diffs.push(format!(
            "{}: ours {got}, vendor {want}",
            if at.is_empty() { "payload" } else { at }
        )),
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
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    // The stamp part by format, the event type and image kind as they are.
    // Ours may add `_2`, `_3`... where the vendor would overwrite an image of
    // the same type saved in the same second (README: differences).
    let (stamp, rest) = want_name.split_at(want_name.len().min(16));
    let rest = rest.strip_suffix(".jpg").unwrap_or(rest);
    let named_alike = name.is_char_boundary(16)
        && name.len() >= 16
        && matches_digits(&name[..16], stamp)
        && name[16..].strip_suffix(".jpg").is_some_and(|r| {
            r == rest
                || r.strip_prefix(rest)
                    .and_then(|n| n.strip_prefix('_'))
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        });
    if !path.is_absolute() || !named_alike {
        diffs.push(format!(
            "{at}: ours {got}, vendor an absolute path named like {want_name}"
        ));
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
