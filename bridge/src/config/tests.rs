//! Unit tests of the configuration: vendor keys and defaults, the Docker
//! variables, one-line errors, hidden secrets.

use super::file::parse_file;
use super::*;

fn parse_with_env(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let file = parse_file(text, "config.yaml")?;
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let env = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    resolve(
        file,
        "config.yaml".into(),
        Path::new("/etc/viewtron"),
        &|n| env(n).filter(|v| !v.is_empty()),
    )
}

#[test]
fn vendor_example_reads_with_vendor_defaults() {
    let c = parse_with_env(
        "bridge_port: 5002\nsave_images: true\nmqtt:\n  enabled: true\n  broker: localhost\n  port: 1883\n  \
         # username: u\n  discovery_prefix: homeassistant\n  topic_prefix: viewtron\n  expire_after: 30\n\
         home_assistant:\n  url: http://localhost:8123/\n  webhooks:\n    lpr: viewtron-lpr\n    # all: x\n",
        &[],
    )
    .unwrap();
    assert_eq!(c.bridge_port, 5002);
    assert!(c.save_images);
    let m = c.mqtt.unwrap();
    assert_eq!(
        (m.broker.as_str(), m.port, m.expire_after),
        ("localhost", 1883, 30)
    );
    assert!(m.username.is_empty());
    let w = c.webhooks.unwrap();
    assert_eq!(w.url, "http://localhost:8123");
    assert_eq!(w.id_for("lpr"), Some("viewtron-lpr"));
    assert_eq!(w.id_for("face"), None);
    assert_eq!(c.image_dir, Path::new("/etc/viewtron/images"));
}

#[test]
fn empty_file_means_vendor_defaults_mqtt_off() {
    let c = parse_with_env("# nothing\n", &[]).unwrap();
    assert_eq!(c.bridge_port, 5002);
    assert!(
        c.save_images,
        "the vendor's code defaults save_images to true"
    );
    assert!(
        c.mqtt.is_none(),
        "the vendor's code defaults mqtt.enabled to false"
    );
    assert!(c.webhooks.is_none());
}

#[test]
fn environment_overrides_the_file() {
    let c = parse_with_env(
        "bridge_port: 1\nsave_images: true\nmqtt: {enabled: true, broker: a, port: 2, username: u, password: p}\n",
        &[
            ("BRIDGE_PORT", "5003"),
            ("MQTT_BROKER", "b"),
            ("MQTT_PORT", "1884"),
            ("MQTT_USERNAME", "v"),
            ("MQTT_PASSWORD", "q"),
            ("SAVE_IMAGES", "false"),
        ],
    )
    .unwrap();
    assert_eq!(c.bridge_port, 5003);
    assert!(!c.save_images);
    let m = c.mqtt.unwrap();
    assert_eq!(
        (
            m.broker.as_str(),
            m.port,
            m.username.as_str(),
            m.password.expose()
        ),
        ("b", 1884, "v", "q")
    );
}

#[test]
fn password_never_in_debug() {
    let c = parse_with_env(
        "mqtt: {enabled: true, username: u, password: hunter2}\nserver: {basic_auth: {username: cam, password: sesame}}\n",
        &[],
    )
    .unwrap();
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("sesame"),
        "{debug}"
    );
}

#[test]
fn unknown_key_is_one_line_naming_it() {
    let e = parse_with_env("save_image: true\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("save_image"), "{e}");
    assert!(!e.contains('\n'), "{e}");
    let e = parse_with_env("mqtt:\n  brokr: x\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("brokr") && !e.contains('\n'), "{e}");
}

#[test]
fn wrong_type_is_one_line() {
    let e = parse_with_env("bridge_port: lots\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 1") && !e.contains('\n'), "{e}");
    let e = parse_with_env("bridge_port: 1\n", &[("BRIDGE_PORT", "x")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("BRIDGE_PORT"), "{e}");
}

#[test]
fn webhooks_need_a_url_and_known_categories() {
    let e = parse_with_env("home_assistant:\n  webhooks: {lpr: x}\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("home_assistant.url"), "{e}");
    let e = parse_with_env(
        "home_assistant:\n  url: http://h\n  webhooks: {plates: x}\n",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("plates"), "{e}");
    // The Docker image's `webhooks: {}` and a section with everything commented out.
    let c = parse_with_env("home_assistant:\n  url: http://h\n  webhooks: {}\n", &[]).unwrap();
    assert!(c.webhooks.is_none());
    let c = parse_with_env("home_assistant:\n  url: http://h\n  webhooks:\n", &[]).unwrap();
    assert!(c.webhooks.is_none());
}

#[test]
fn all_catches_unconfigured_categories() {
    let c = parse_with_env(
        "home_assistant:\n  url: http://h\n  webhooks: {lpr: a, all: b}\n",
        &[],
    )
    .unwrap();
    let w = c.webhooks.unwrap();
    assert_eq!(w.id_for("lpr"), Some("a"));
    assert_eq!(w.id_for("counting"), Some("b"));
}

#[test]
fn queue_bounds_and_first_state_delay_have_defaults_and_limits() {
    let c = parse_with_env("mqtt: {enabled: true}\n", &[]).unwrap();
    let m = c.mqtt.expect("mqtt on");
    assert_eq!((m.queue_capacity, m.queue_max_bytes), (10_000, 64 << 20));
    assert_eq!(m.first_state_delay, Duration::from_secs(1));
    let c = parse_with_env(
        "mqtt: {enabled: true, queue_max_mb: 0.5, first_state_delay: 0}\n",
        &[],
    )
    .unwrap();
    let m = c.mqtt.expect("mqtt on");
    assert_eq!(m.queue_max_bytes, 512 << 10);
    assert_eq!(m.first_state_delay, Duration::ZERO);
    for bad in [
        "first_state_delay: -1",
        "first_state_delay: 61",
        "queue_max_mb: 0",
    ] {
        let e = parse_with_env(&format!("mqtt: {{enabled: true, {bad}}}\n"), &[])
            .unwrap_err()
            .to_string();
        let key = bad.split(':').next().unwrap();
        assert!(e.contains(key) && !e.contains('\n'), "{bad}: {e}");
    }
}

#[test]
fn event_entities_camera_timeout_and_state_dir() {
    let c = parse_with_env("mqtt: {enabled: true}\n", &[]).unwrap();
    assert_eq!(c.state_dir, Path::new("/etc/viewtron/state"));
    let m = c.mqtt.expect("mqtt on");
    assert!(m.event_entities);
    assert_eq!(m.camera_timeout, Some(Duration::from_secs(90)));
    let text = "state_dir: st\nmqtt: {enabled: true, event_entities: false, camera_timeout: 0}\n";
    let c = parse_with_env(text, &[("STATE_DIRECTORY", "/var/lib/x")]).unwrap();
    assert_eq!(c.state_dir, Path::new("/etc/viewtron/st"));
    let m = c.mqtt.expect("mqtt on");
    assert!(!m.event_entities);
    assert_eq!(m.camera_timeout, None);
    // systemd's StateDirectory= (the first of several).
    let env = [("STATE_DIRECTORY", "/var/lib/viewtron-bridge:/var/lib/other")];
    let c = parse_with_env("mqtt: {enabled: true, camera_timeout: 1.5}\n", &env).unwrap();
    assert_eq!(c.state_dir, Path::new("/var/lib/viewtron-bridge"));
    let m = c.mqtt.expect("mqtt on");
    assert_eq!(m.camera_timeout, Some(Duration::from_millis(1500)));
    for bad in [
        "camera_timeout: 0.5",
        "camera_timeout: -1",
        "camera_timeout: 86401",
    ] {
        let e = parse_with_env(&format!("mqtt: {{enabled: true, {bad}}}\n"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("mqtt.camera_timeout"), "{bad}: {e}");
    }
}
