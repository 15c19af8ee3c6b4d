//! The installer's page as a person sees it: a real headless Chromium opens
//! it through a stand-in for Home Assistant's ingress while cameras post,
//! and the test reads what is on screen: the cameras with their state, the
//! plate, pictures decoded, a camera turning quiet, refusals, the narrow
//! layout of a phone. Screenshots are kept (paths printed).
//!
//! And what the page costs the cameras: the p99 of the camera's answer with
//! the page closed and with it open and polling, and the bridge's memory
//! with the page's store full of the largest pictures it keeps.
//!
//! Needs `chromium` and `chromedriver` (see `page/webdriver.rs`).

#[path = "page/camera.rs"]
mod camera;
#[path = "page/ingress.rs"]
mod ingress;
mod support;
#[path = "page/webdriver.rs"]
mod webdriver;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use camera::{lpr_with_large_pictures, post_as, post_ok};
use ingress::Ingress;
use support::{fixture, http_get, lpr_post, Bridge, ANSWER_BOUND};
use webdriver::{Browser, Tools};

/// One browser test at a time: the p99 test measures the machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const GATE: &str = "192.168.1.20";
const DEPOT: &str = "192.168.1.22";
const BAY: &str = "192.168.1.23";
const STRANGER: &str = "192.168.1.24";

/// The page on, cameras in 192.168.1.0/24 behind the test's loopback
/// "proxy", and Home Assistant's ingress proxy allowed, as in the app.
fn config(quiet_after: f64) -> String {
    format!(
        "bridge_port: {{port}}\nsave_images: false\nserver:\n  bind: 127.0.0.1\n  \
         trusted_proxies: [127.0.0.1]\n  allow: [192.168.1.0/24, 172.30.32.2]\n  paths: [/API]\n\
         page:\n  enabled: true\n  quiet_after: {quiet_after}\n"
    )
}

/// Where screenshots and figures go: `target/tmp/` (printed).
fn artefact(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Keepalives from `camera` every 250 ms until dropped.
struct Keepalives(Arc<AtomicBool>, Option<thread::JoinHandle<()>>);

impl Keepalives {
    fn start(port: u16, camera: &'static str) -> Keepalives {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let body = fixture("v2-keepalive.xml");
        let handle = thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                post_ok(port, camera, &body);
                thread::sleep(Duration::from_millis(250));
            }
        });
        Keepalives(stop, Some(handle))
    }
}

impl Drop for Keepalives {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        if let Some(h) = self.1.take() {
            let _ = h.join();
        }
    }
}

/// The text of the camera row for `ip` once its state is `state`.
fn row_once(browser: &Browser, ip: &str, state: &str) -> String {
    let script = format!(
        "const r = document.querySelector('tr[data-ip=\"{ip}\"]'); \
         return r && r.dataset.state === '{state}' && !r.hidden ? r.innerText : null"
    );
    let what = format!("camera {ip} shown {state}");
    let text = browser.wait_for(&what, Duration::from_secs(15), &script);
    text.as_str().unwrap_or_default().to_owned()
}

#[test]
fn the_page_shows_cameras_events_pictures_and_a_camera_turning_quiet() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(tools) = Tools::find() else { return };
    let bridge = Bridge::start(&config(2.0));
    let port = bridge.port;
    let ingress = Ingress::start(port);

    // Behind server.allow like the posts: this loopback address is not in it.
    let (status, _) = http_get(port, "/").unwrap();
    assert_eq!(status, 403, "the page must sit behind server.allow");

    post_ok(port, GATE, &fixture("v1-lpr-vehice.xml"));
    post_ok(port, GATE, &fixture("v1-unknown-motion.xml"));
    post_ok(port, BAY, &lpr_with_large_pictures(600 * 1024));
    assert_eq!(post_as(port, STRANGER, "/wrong", b"<x/>").0, 404);
    let _depot = Keepalives::start(port, DEPOT);

    let browser = Browser::start(&tools);
    browser.goto(&ingress.url(""));
    let gate = row_once(&browser, GATE, "connected");
    for shown in [
        "Harbour Gate LPR",
        "harbour_gate_lpr_192_168_1_20",
        "Connected",
        "lpr 1",
    ] {
        assert!(
            gate.contains(shown),
            "`{shown}` not in the gate's row: {gate}"
        );
    }
    let depot = row_once(&browser, DEPOT, "connected");
    assert!(
        depot.contains("Depot NVR-16") && depot.contains("none yet"),
        "{depot}"
    );

    // The plate, and both its pictures decoded by the browser.
    let pictures = browser.wait_for(
        "the plate's two pictures decoded",
        Duration::from_secs(15),
        "const li = [...document.querySelectorAll('#events li')]
             .find(li => li.innerText.includes('HX72 LMP'));
         if (!li) return null;
         const imgs = [...li.querySelectorAll('img')];
         return imgs.length === 2 && imgs.every(i => i.complete && i.naturalWidth > 0)
             ? imgs.map(i => ({alt: i.alt, width: i.naturalWidth})) : null;",
    );
    println!("pictures decoded: {pictures}");
    let overview_alt = pictures[0]["alt"].as_str().unwrap_or_default();
    assert!(
        overview_alt.starts_with("Overview picture from Harbour Gate LPR at "),
        "{overview_alt}"
    );
    assert_eq!(pictures[1]["alt"], "Plate picture: HX72 LMP");

    // Too large to keep: said so, not shown.
    let bay = browser.wait_for(
        "the large pictures' note",
        Duration::from_secs(15),
        "const li = [...document.querySelectorAll('#events li')]
             .find(li => li.innerText.includes('BIG 0001'));
         return li && li.querySelectorAll('img').length === 0 ? li.innerText : null;",
    );
    let bay = bay.as_str().unwrap_or_default();
    assert!(
        bay.contains("overview picture of 600 KiB not kept (over 512 KiB)"),
        "{bay}"
    );

    // Refusals by reason, and what was not understood.
    let refused = browser.js("return document.querySelector('#refused').innerText");
    let refused = refused.as_str().unwrap_or_default();
    assert!(
        refused.contains("Wrong path (server.paths)\t404\t1"),
        "{refused}"
    );
    assert!(
        refused.contains("Address not allowed (server.allow)"),
        "{refused}"
    );
    assert!(
        gate.trim_end().ends_with("\t1"),
        "1 post not understood: {gate}"
    );

    // Accessibility basics.
    let problems = browser.js(
        "const p = [];
         document.querySelectorAll('img').forEach(i => { if (!i.alt.trim()) p.push('img without alt'); });
         document.querySelectorAll('table').forEach(t => {
             if (!t.querySelector('thead th[scope=col]')) p.push('table without headers: ' + t.id);
             if (!t.querySelector('caption')) p.push('table without caption: ' + t.id); });
         document.querySelectorAll('input').forEach(i => { if (!i.labels.length) p.push('input without label: ' + i.id); });
         document.querySelectorAll('.state').forEach(s => { if (!/Connected|Quiet/.test(s.innerText)) p.push('state by colour alone'); });
         if (!document.documentElement.lang) p.push('no lang');
         return p;",
    );
    assert_eq!(problems, serde_json::json!([]), "accessibility");

    // Quiet: the gate stops posting; the depot's keepalives keep it connected.
    let gate = row_once(&browser, GATE, "quiet");
    assert!(gate.contains("Quiet for"), "{gate}");
    let depot = browser.js(&format!(
        "return document.querySelector('tr[data-ip=\"{DEPOT}\"]').dataset.state"
    ));
    assert_eq!(depot, "connected", "keepalives count as posts");

    let desktop = artefact("page-screenshot.png");
    browser.screenshot(&desktop, 1280, false);
    println!("screenshot (desktop, 1280 px): {}", desktop.display());

    // A phone: 390 CSS pixels wide, nothing wider than the screen.
    browser.viewport(390, 844, true);
    let overflow = browser
        .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth");
    assert_eq!(overflow, 0, "the page scrolls sideways on a phone");
    let phone = artefact("page-screenshot-phone.png");
    browser.screenshot(&phone, 390, true);
    println!("screenshot (phone, 390 px): {}", phone.display());

    let strays = ingress.strays.lock().unwrap().clone();
    assert!(
        strays.is_empty(),
        "requests outside the ingress prefix: {strays:?}"
    );
}

/// `n` posts from `threads` cameras at once; every answer's time.
fn burst(port: u16, n: usize, threads: usize) -> Vec<Duration> {
    let per = n / threads;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            thread::spawn(move || {
                let camera = format!("192.168.1.{}", 100 + t);
                let bodies: Vec<Vec<u8>> = (0..per)
                    .map(|i| lpr_post(&format!("Lane {t}"), &format!("L{t} {i:04}")))
                    .collect();
                bodies
                    .iter()
                    .map(|b| post_ok(port, &camera, b))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().expect("a posting thread"))
        .collect()
}

fn percentile(times: &mut [Duration], p: f64) -> Duration {
    times.sort();
    let i = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
    times[i]
}

/// p50, p99 and the slowest.
fn spread(times: &mut [Duration]) -> String {
    let (p50, p99, max) = (
        percentile(times, 0.50),
        percentile(times, 0.99),
        percentile(times, 1.0),
    );
    format!("p50 {p50:.1?}, p99 {p99:.1?}, max {max:.1?}")
}

/// What the page asks, without a browser: `api/cameras` every 250 ms and
/// each new event's pictures once. Stopped by the flag; returns how many
/// requests it made.
fn poll_like_the_page(ingress_port: u16, stop: Arc<AtomicBool>) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let mut asked = 0;
        let mut seen = std::collections::HashSet::new();
        while !stop.load(Ordering::Relaxed) {
            let path = format!("{}/api/cameras", ingress::PREFIX);
            let (_, json) = http_get(ingress_port, &path).expect("api/cameras");
            asked += 1;
            let json: serde_json::Value = serde_json::from_str(&json).unwrap();
            for e in json["events"].as_array().unwrap() {
                if !seen.insert(e["seq"].as_u64()) {
                    continue;
                }
                for p in e["pictures"].as_array().unwrap() {
                    let url = format!("{}/{}", ingress::PREFIX, p["url"].as_str().unwrap());
                    let _ = http_get(ingress_port, &url);
                    asked += 1;
                }
            }
            thread::sleep(Duration::from_millis(250));
        }
        asked
    })
}

#[test]
fn the_cameras_answers_with_the_page_open_and_polling() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(tools) = Tools::find() else { return };
    const POSTS: usize = 2000;
    const THREADS: usize = 8;
    let bridge = Bridge::start(&config(90.0));
    let port = bridge.port;
    let ingress = Ingress::start(port);
    burst(port, 200, THREADS); // warm up

    // 1. Nobody looking.
    let mut closed = burst(port, POSTS, THREADS);

    // 2. The page's requests at 8 times its pace, from a plain client: the
    // bridge's own cost of the page, without a browser's CPU beside it.
    let stop = Arc::new(AtomicBool::new(false));
    let poller = poll_like_the_page(ingress.port, stop.clone());
    let start = Instant::now();
    let mut polled = burst(port, POSTS, THREADS);
    let polled_took = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let polled_asked = poller.join().unwrap();

    // 3. The page open in Chromium, polling every 250 ms.
    let browser = Browser::start(&tools);
    browser.goto(&ingress.url("?poll=250"));
    row_once(&browser, "192.168.1.100", "connected");
    browser.js("window.__asked = 0; const f = window.fetch;
         window.fetch = (...a) => { window.__asked++; return f(...a); }; return 0;");
    let start = Instant::now();
    let mut open = burst(port, POSTS, THREADS);
    let took = start.elapsed();
    let asked = browser.js("return window.__asked").as_u64().unwrap_or(0);
    // The page followed: it shows the burst's last events.
    browser.wait_for(
        "the burst's events on the page",
        Duration::from_secs(15),
        "return document.querySelector('#events').innerText.includes('0249')",
    );

    let report = format!(
        "camera answers, {POSTS} LPR posts (with pictures) from {THREADS} threads:\n  \
         page closed:                           {}\n  \
         page's requests, plain client, 250 ms: {} ({polled_asked} requests in {polled_took:.1?})\n  \
         page open in Chromium, polling 250 ms: {} ({asked} requests in {took:.1?})\n",
        spread(&mut closed),
        spread(&mut polled),
        spread(&mut open),
    );
    print!("{report}");
    std::fs::write(artefact("page-p99.txt"), &report).unwrap();
    for (n, took) in [(polled_asked, polled_took), (asked, took)] {
        assert!(
            n as f64 >= took.as_secs_f64() * 2.0,
            "the page did not poll during the burst: {n} requests in {took:?}"
        );
    }
    for times in [&mut polled, &mut open] {
        assert!(percentile(times, 0.99) < ANSWER_BOUND, "{report}");
    }
}

/// The bridge's resident memory, from /proc.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The bridge's growth in resident memory over `rounds` of 60 events with
/// two 512 KiB pictures each (the largest the page keeps), from 60
/// addresses: once round the page's 20 events three times per round.
///
/// With glibc's one arena (`MALLOC_ARENA_MAX=1`): with its default arena
/// per thread, a picture allocated on one worker and freed on another
/// leaves room behind in each, and the figure measures the allocator's
/// spread more than the page (26 to 35 MiB over the page's 22.8, creeping
/// by a few MiB over 480 events, in our runs).
fn growth(page: bool, rounds: usize) -> Vec<u64> {
    let mut yaml = config(90.0);
    if !page {
        yaml = yaml.replace("enabled: true", "enabled: false");
    }
    let bridge = Bridge::start_with_env(&yaml, &[("MALLOC_ARENA_MAX", "1")]);
    let port = bridge.port;
    let body = lpr_with_large_pictures(512 * 1024);
    post_ok(port, GATE, &body);
    let before = rss_bytes(bridge.child.id());
    let mut grown = Vec::new();
    for _ in 0..rounds {
        for n in 0..60 {
            post_ok(port, &format!("192.168.1.{}", 150 + n), &body);
        }
        grown.push(rss_bytes(bridge.child.id()).saturating_sub(before));
    }
    if page {
        let ingress = Ingress::start(port);
        let path = format!("{}/api/cameras", ingress::PREFIX);
        let (status, json) = http_get(ingress.port, &path).unwrap();
        assert_eq!(status, 200, "{json}");
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        let events = json["events"].as_array().unwrap();
        assert_eq!(events.len(), 20);
        // What the page holds by its own count: full, and within its bound.
        let kept = json["kept_bytes"].as_u64().unwrap();
        println!("the page holds {kept} bytes (its bound: 23,946,240)");
        assert!((40 * 512 * 1024..=23_946_240).contains(&kept), "{kept}");
        for e in events {
            let pictures = e["pictures"].as_array().unwrap();
            let sizes: Vec<_> = pictures.iter().map(|p| &p["bytes"]).collect();
            assert_eq!(sizes, [512 * 1024, 512 * 1024], "both pictures kept: {e}");
        }
    }
    grown
}

#[test]
fn the_page_keeps_its_memory_bound_with_the_largest_pictures() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // page/limits.rs: MEMORY_BOUND.
    const BOUND: u64 = 23_946_240;
    // The allocator's room for freed pictures and the posts' bodies (the
    // page's own count, `kept_bytes`, is checked against the bound exactly).
    const SLACK: u64 = 16 << 20;
    let without = growth(false, 3);
    let with = growth(true, 3);
    let kib = |v: &[u64]| {
        v.iter()
            .map(|b| format!("{} KiB", b / 1024))
            .collect::<Vec<_>>()
    };
    let report = format!(
        "bridge memory growth after 60, 120 and 180 events with 2 × 512 KiB pictures \
         (MALLOC_ARENA_MAX=1): page off {:?}, page on {:?} (the page's bound: {} KiB)\n",
        kib(&without),
        kib(&with),
        BOUND / 1024
    );
    print!("{report}");
    std::fs::write(artefact("page-memory.txt"), &report).unwrap();
    let page = with[2].saturating_sub(without[2]);
    assert!(page < BOUND + SLACK, "{report}");
    // Bounded: the last round adds no more than allocator noise (an
    // unbounded store would add 60 MiB a round). Measured against the
    // second round, not the first: the allocator may still be reaching its
    // plateau during the first (one run here: 36.4, 43.0, 44.1 MiB, where
    // most runs read 38-40 MiB from the first round on).
    assert!(with[2] < with[1] + (6 << 20), "{report}");
}

/// The Home Assistant app: the page in the sidebar through ingress, on the
/// bridge's port.
#[test]
fn the_home_assistant_app_opens_the_page_through_ingress() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../home-assistant/viewtron-bridge/config.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let app: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(app["ingress"], true, "{}", path.display());
    assert_eq!(app["ingress_port"], app["options"]["bridge_port"]);
    assert!(app["panel_icon"].as_str().unwrap().starts_with("mdi:"));
    assert!(!app["panel_title"].as_str().unwrap().is_empty());

    // On in the app, without a word in the options.
    let options = r#"{"bridge_port": {port}, "mqtt_broker": "127.0.0.1", "mqtt_port": 1, "mqtt_username": "u", "mqtt_password": "p", "save_images": false, "allow": []}"#;
    let bridge = Bridge::start_app(options, &[]);
    let (status, page) = http_get(bridge.port, "/").unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("<title>Viewtron cameras</title>"), "{page}");

    // A non-empty allow admits the ingress proxy too.
    let dir = support::TempDir::new("page-app");
    let file = dir.path().join("options.json");
    let options = options.replace(r#""allow": []"#, r#""allow": ["192.168.1.0/24"]"#);
    std::fs::write(&file, options.replace("{port}", "5002")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_viewtron-bridge"))
        .arg("--app")
        .arg(&file)
        .arg("--check")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let row = |key: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key} in:\n{stdout}"))
            .to_owned()
    };
    assert!(row("page.enabled").contains("true"), "{stdout}");
    let allow = row("server.allow");
    assert!(
        allow.contains("192.168.1.0/24") && allow.contains("172.30.32.2"),
        "{allow}"
    );
}

/// `viewtron-bridge --check --config <yaml>`: (exit code, stdout + stderr).
fn check(yaml: &str) -> (Option<i32>, String) {
    let dir = support::TempDir::new("page-check");
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, yaml).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_viewtron-bridge"))
        .arg("--config")
        .arg(&file)
        .arg("--check")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.code(),
        text + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn the_page_is_off_unless_enabled_and_check_says_who_can_see_it() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let bridge =
        Bridge::start("bridge_port: {port}\nsave_images: false\nserver: {bind: 127.0.0.1}\n");
    for path in ["/", "/api/cameras", "/image/1/overview"] {
        let (status, body) = http_get(bridge.port, path).unwrap();
        assert_eq!(status, 200);
        assert_eq!(
            body, "Viewtron event server running",
            "{path}: the library's text"
        );
    }

    let on = "mqtt: {enabled: true}\npage: {enabled: true}\n";
    let (code, out) = check(on);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("page.quiet_after"), "{out}");
    let warning = "page.enabled with an empty server.allow: anyone who reaches port 5002 sees";
    assert!(out.contains(warning), "{out}");
    let auth = "server: {basic_auth: {username: cam, password: pw}}\n";
    let (_, out) = check(&format!("{on}{auth}"));
    assert!(
        out.contains("server.basic_auth protects the cameras' posts, not the page"),
        "{out}"
    );
    let allowed = "server: {allow: [192.168.1.0/24]}\n";
    let (_, out) = check(&format!("{on}{allowed}"));
    assert!(!out.contains("warning: page"), "{out}");
    let (code, out) = check("mqtt: {enabled: true}\npage: {enabled: true, quiet_after: 0}\n");
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("page.quiet_after: must be between 1 and 86400 seconds"),
        "{out}"
    );
}
