//! Issue 8: the overview item of an IP camera LPR post is not a plate.
//! `listen` (text and `--json`) and `dump`, run as child processes
//! (`programs/`), show the read plate, its vehicle and its targets for five
//! LPR fixtures, never the overview item; `lpr.rs` checks the same fixtures
//! through the event API.

mod common;
mod programs;

use std::path::PathBuf;
use std::time::Instant;

use common::{assert_success, Camera};
use programs::{free_port, loopback, Guard, STARTUP};
use serde_json::Value;

/// What `listen` and `dump` must show for one LPR fixture.
struct Lpr {
    file: &'static str,
    /// The end of `listen`'s text line.
    text: &'static str,
    plate: Option<&'static str>,
    brand: Option<&'static str>,
    /// Target ids: the plates' cars, never the overview.
    targets: &'static [u64],
    /// Decoded sizes of the overview and of the plate crop.
    source_len: u64,
    crop_len: Option<u64>,
}

const LPR_FIXTURES: [Lpr; 5] = [
    Lpr {
        file: "v1-lpr-overview-empty-plate.xml",
        text: "plate=\"KR19 WDX\" group=temporaryList",
        plate: Some("KR19 WDX"),
        brand: Some("Ford"),
        targets: &[517],
        source_len: 164,
        crop_len: Some(161),
    },
    Lpr {
        file: "v1-lpr-overview-without-plate-number.xml",
        text: "plate=\"MV 6608 T\" group=whiteList",
        plate: Some("MV 6608 T"),
        brand: Some("Toyota"),
        targets: &[88],
        source_len: 164,
        crop_len: Some(161),
    },
    Lpr {
        file: "v1-lpr-single-item.xml",
        text: "plate=\"YT 40 LKB\" group=-",
        plate: Some("YT 40 LKB"),
        brand: None,
        targets: &[2024],
        source_len: 164,
        crop_len: Some(161),
    },
    Lpr {
        file: "v1-lpr-overview-in-source-data.xml",
        text: "plate=BT-204-HN group=blackList",
        plate: Some("BT-204-HN"),
        brand: Some("Renault"),
        targets: &[9],
        source_len: 164,
        crop_len: Some(161),
    },
    Lpr {
        file: "v1-lpr-no-plate-read.xml",
        text: "plate=- group=-",
        plate: None,
        brand: None,
        targets: &[],
        source_len: 161,
        crop_len: None,
    },
];

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn fixture_text(name: &str) -> String {
    let path = fixture_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Checks one event as the crate's JSON shows it (`listen --json`, `dump`).
fn check_lpr_json(lpr: &Lpr, value: &Value) {
    let name = lpr.file;
    assert_eq!(value["kind"], "event", "{name}: {value}");
    assert_eq!(value["category"], "lpr", "{name}");
    assert_eq!(
        value["plate"]["number"].as_str(),
        lpr.plate,
        "{name}: {value}"
    );
    assert_eq!(value["plate"].is_null(), lpr.plate.is_none(), "{name}");
    assert_eq!(value["vehicle"]["brand"].as_str(), lpr.brand, "{name}");
    let plates = value["plates"].as_array().expect("plates");
    assert_eq!(plates.len(), usize::from(lpr.plate.is_some()), "{name}");
    let targets = value["targets"].as_array().expect("targets");
    let ids: Vec<u64> = targets.iter().filter_map(|t| t["id"].as_u64()).collect();
    assert_eq!(ids, lpr.targets, "{name}: the overview is no target");
    assert_eq!(targets.len(), lpr.targets.len(), "{name}");
    assert_eq!(
        value["source_image_len"].as_u64(),
        Some(lpr.source_len),
        "{name}"
    );
    assert_eq!(value["target_image_len"].as_u64(), lpr.crop_len, "{name}");
}

/// Starts `listen` (with `extra` flags), sends a keepalive and waits for the
/// connect line, so every later line belongs to a post.
fn listen_connected(extra: &[&str], connected: &str) -> (Guard, Camera) {
    let port = free_port();
    let port_text = port.to_string();
    let mut args = vec!["--port", &port_text, "--bind", "127.0.0.1"];
    args.extend_from_slice(extra);
    let mut listen = Guard::start("listen", &args);
    let mut camera = listen.connect(loopback(port));
    assert_success(&camera.post("/API", ""));
    let deadline = Instant::now() + STARTUP;
    while listen.next_line(deadline) != connected {}
    (listen, camera)
}

#[test]
fn listen_text_prints_the_read_plate_not_the_overview_item() {
    let (listen, mut camera) = listen_connected(&[], "Camera connected: 127.0.0.1");
    for lpr in &LPR_FIXTURES {
        assert_success(&camera.post("/API", &fixture_text(lpr.file)));
        let line = listen.next_line(Instant::now() + STARTUP);
        let expected = format!("[lpr] License Plate Detection from 127.0.0.1  {}", lpr.text);
        assert_eq!(line, expected, "{}", lpr.file);
    }
}

#[test]
fn listen_json_prints_the_read_plate_not_the_overview_item() {
    let connected = r#"{"kind":"connect","camera_ip":"127.0.0.1"}"#;
    let (listen, mut camera) = listen_connected(&["--json"], connected);
    for lpr in &LPR_FIXTURES {
        assert_success(&camera.post("/API", &fixture_text(lpr.file)));
        let line = listen.next_line(Instant::now() + STARTUP);
        let value: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{}: not a JSON line ({e}): {line}", lpr.file));
        assert_eq!(value["camera_ip"], "127.0.0.1", "{line}");
        check_lpr_json(lpr, &value);
    }
}

#[test]
fn dump_prints_the_read_plate_not_the_overview_item() {
    let paths: Vec<String> = LPR_FIXTURES
        .iter()
        .map(|l| fixture_path(l.file).to_string_lossy().into_owned())
        .collect();
    let args: Vec<&str> = paths.iter().map(String::as_str).collect();
    let mut dump = Guard::start("dump", &args);
    let status = dump.wait(STARTUP);
    assert!(status.success(), "dump exited with {status}");
    let out = dump.drain_stdout();
    assert_eq!(out.len(), LPR_FIXTURES.len(), "one line per file: {out:?}");
    for ((lpr, path), line) in LPR_FIXTURES.iter().zip(&paths).zip(&out) {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}: not a JSON line ({e}): {line}", lpr.file));
        assert_eq!(value["file"], path.as_str(), "{line}");
        check_lpr_json(lpr, &value);
    }
}
