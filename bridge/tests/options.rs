//! Options beyond the vendor, each end to end: repeat plates, saved images
//! and their limits, the library's hardening settings, broker credentials.

mod support;

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use support::*;

#[test]
fn repeat_plates_within_dedup_seconds_are_published_once() {
    let broker = Broker::start();
    let mut sub = Subscriber::start(&broker, "viewtron/+/lpr");
    let bridge = Bridge::start(&mqtt_config(&broker, "", "dedup_seconds: 60\n"));
    bridge.wait_health(200);
    for plate in ["SAME 1", "SAME 1", "OTHER 2", "SAME 1"] {
        bridge.post(&plate_post("Gate", plate));
    }
    bridge.post(&plate_post("Yard", "SAME 1")); // another camera: not a repeat
    bridge.wait_metric("viewtron_bridge_repeats_skipped_total", |n| n == 2);
    sub.expect("viewtron/yard_127_0_0_1/lpr");
    sub.drain(Duration::from_millis(300)); // anything late lands in `seen`
    let plates: Vec<_> = sub
        .seen
        .iter()
        .filter(|m| m.topic == "viewtron/gate_127_0_0_1/lpr")
        .map(|m| m.json()["plate_number"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = plates.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(plates.len(), 2, "SAME 1 once and OTHER 2 once: {plates:?}");
    assert_eq!(sorted, ["OTHER 2", "SAME 1"]);
}

#[test]
fn saved_images_are_named_like_the_vendor_and_their_paths_published() {
    let broker = Broker::start();
    let mut sub = Subscriber::start(&broker, "viewtron/+/lpr");
    let config = mqtt_config(&broker, "", "").replace("save_images: false", "save_images: true");
    let bridge = Bridge::start(&config);
    bridge.wait_health(200);
    bridge.post(&fixture("v1-lpr-vehice.xml"));
    bridge.post(&fixture("v1-lpr-vehice.xml"));
    let mut paths = Vec::new();
    for _ in 0..2 {
        let json = sub.expect("viewtron/harbour_gate_lpr_127_0_0_1/lpr").json();
        for key in ["overview_image", "target_image"] {
            paths.push(
                json[key]
                    .as_str()
                    .unwrap_or_else(|| panic!("no {key} in {json}"))
                    .to_owned(),
            );
        }
    }
    let images = bridge.dir.path().join("images");
    for p in &paths {
        let path = Path::new(p);
        assert!(path.is_absolute(), "{p}");
        assert_eq!(path.parent(), Some(images.as_path()), "{p}");
        let name = path.file_name().unwrap().to_str().unwrap();
        // <YYYYmmdd_HHMMSS>_<event type>_<overview|target>[_n].jpg
        let (stamp, rest) = name.split_at(15);
        assert!(
            stamp.chars().enumerate().all(|(i, c)| if i == 8 {
                c == '_'
            } else {
                c.is_ascii_digit()
            }),
            "{name}"
        );
        assert!(
            rest.starts_with("_VEHICE_overview") || rest.starts_with("_VEHICE_target"),
            "{name}"
        );
        assert_eq!(
            &fs::read(path).unwrap()[..2],
            [0xFF, 0xD8],
            "{name} is a JPEG"
        );
    }
    let mut unique = paths.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        4,
        "two events in one second never overwrite each other: {paths:?}"
    );
}

#[test]
fn image_limits_delete_the_oldest_and_the_expired() {
    let dir = TempDir::new("limits");
    let images = dir.path().join("images");
    fs::create_dir_all(&images).unwrap();
    let old = images.join("20200101_000000_VEHICE_overview.jpg");
    fs::write(&old, b"old").unwrap();
    fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(10 * 86_400))
        .unwrap();
    let config = format!(
        "bridge_port: {{port}}\nsave_images: true\nimage_dir: {}\nimage_retention_days: 7\nimage_max_mb: 0.0015\nserver:\n  bind: 127.0.0.1\n",
        images.display()
    );
    let bridge = Bridge::start(&config);
    // Started: the expired file goes at once.
    bridge.wait_metric("viewtron_bridge_images_total{result=\"deleted\"}", |n| {
        n >= 1
    });
    assert!(!old.exists());
    // Each event writes two small JPEGs (161-164 bytes); the folder may hold
    // 1.5 KiB, so older files go as new ones come.
    for _ in 0..10 {
        bridge.post(&fixture("v1-lpr-vehice.xml"));
    }
    bridge.wait_metric("viewtron_bridge_images_total{result=\"saved\"}", |n| {
        n == 20
    });
    bridge.wait_metric("viewtron_bridge_images_total{result=\"deleted\"}", |n| {
        n >= 10
    });
    let total: u64 = fs::read_dir(&images)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(total <= 1536, "{total} bytes left");
}

#[test]
fn the_library_hardening_settings_apply() {
    let config = "bridge_port: {port}\nsave_images: false\nserver:\n  bind: 127.0.0.1\n  \
                  basic_auth: {username: camera, password: sesame}\n  max_body: 4096\n  paths: [/API]\n";
    let bridge = Bridge::start(config);
    let raw = |request: &str| {
        let mut tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, bridge.port)).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        tcp.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = tcp.read_to_string(&mut answer);
        answer
    };
    let body = String::from_utf8(plate_post("Gate", "A1")).unwrap();
    let post = |auth: &str, path: &str, body: &str| {
        raw(&format!(
            "POST {path} HTTP/1.1\r\nHost: b\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ))
    };
    // base64("camera:sesame")
    let good = "Authorization: Basic Y2FtZXJhOnNlc2FtZQ==\r\n";
    assert!(post("", "/API", &body).starts_with("HTTP/1.1 401"));
    assert!(
        post("Authorization: Basic Y2FtZXJhOndyb25n\r\n", "/API", &body)
            .starts_with("HTTP/1.1 401")
    );
    assert!(post(good, "/API", &body).starts_with("HTTP/1.1 200"));
    assert!(post(good, "/other", &body).starts_with("HTTP/1.1 404"));
    assert!(post(good, "/API", &"x".repeat(5000)).starts_with("HTTP/1.1 413"));

    let allow = "bridge_port: {port}\nsave_images: false\nserver:\n  bind: 127.0.0.1\n  allow: [127.0.0.2/32]\n";
    let guarded = Bridge::start(allow);
    let answer = {
        let mut tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, guarded.port)).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        write!(
            tcp,
            "POST /API HTTP/1.1\r\nHost: b\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab"
        )
        .unwrap();
        let mut a = String::new();
        let _ = tcp.read_to_string(&mut a);
        a
    };
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
}

#[test]
fn the_slow_client_limits_apply() {
    // One request in progress per address, a whole body within 1 s.
    let config = "bridge_port: {port}\nsave_images: false\nserver:\n  bind: 127.0.0.1\n  \
                  body_timeout: 1\n  max_per_address: 1\n  max_workers: 4\n";
    let bridge = Bridge::start(config);
    bridge.wait_health(200);
    let head = "POST /API HTTP/1.1\r\nHost: b\r\nContent-Length: 5000\r\n\r\n<config";
    let open = || {
        let mut tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, bridge.port)).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        tcp.write_all(head.as_bytes()).unwrap();
        tcp
    };
    let status = |tcp: &mut TcpStream| {
        let mut answer = String::new();
        let _ = tcp.read_to_string(&mut answer);
        answer.get(9..12).map(str::to_owned)
    };
    // The first stalls its body; wait until the bridge is reading it.
    let mut first = open();
    bridge.wait_metric("viewtron_requests_in_progress", |n| n == 1);
    // A second from the same address while it is in progress: 429.
    let mut second = open();
    assert_eq!(status(&mut second).as_deref(), Some("429"));
    // The first is cut at its deadline: 408, well before the read timeout.
    let started = std::time::Instant::now();
    assert_eq!(status(&mut first).as_deref(), Some("408"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn broker_credentials_work_and_never_reach_the_log() {
    mosquitto();
    let Some(passwd) = [
        "/usr/bin/mosquitto_passwd",
        "/usr/local/bin/mosquitto_passwd",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists()) else {
        panic!("mosquitto_passwd not found: apt-get install mosquitto");
    };
    let mut broker = Broker::start();
    let file = broker.dir().join("passwd");
    let ok = Command::new(passwd)
        .arg("-c")
        .arg("-b")
        .arg(&file)
        .arg("bridge")
        .arg("s3cret-pw")
        .status()
        .unwrap();
    assert!(ok.success());
    broker.reconfigure(&format!(
        "allow_anonymous false\npassword_file {}\n",
        file.display()
    ));
    let config = mqtt_config(&broker, "  username: bridge\n  password: s3cret-pw\n", "");
    let bridge = Bridge::start(&config);
    bridge.wait_health(200);
    let wrong = Bridge::start(&mqtt_config(
        &broker,
        "  username: bridge\n  password: wrong-pw\n",
        "",
    ));
    // Refused: not connected, and says why, without the password.
    wrong.wait_log("cannot connect");
    assert_eq!(wrong.metric("viewtron_bridge_mqtt_connected"), 0);
    for log in [bridge.log_text(), wrong.log_text()] {
        assert!(
            !log.contains("s3cret-pw") && !log.contains("wrong-pw"),
            "a password in the log:\n{log}"
        );
    }
}

#[test]
fn behind_a_trusted_proxy_the_camera_is_named_by_its_own_address() {
    let broker = Broker::start();
    let mut sub = Subscriber::start(&broker, "viewtron/+/lpr");
    let config = mqtt_config(&broker, "", "")
        .replace("server:\n", "server:\n  trusted_proxies: [127.0.0.1]\n");
    let bridge = Bridge::start(&config);
    bridge.wait_health(200);
    let body = plate_post("Gate", "XFF 1");
    let mut tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, bridge.port)).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        tcp,
        "POST /API HTTP/1.1\r\nHost: b\r\nX-Forwarded-For: 192.168.7.21\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    tcp.write_all(&body).unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let state = sub.expect("viewtron/gate_192_168_7_21/lpr").json();
    assert_eq!(state["camera_ip"], "192.168.7.21");
}
