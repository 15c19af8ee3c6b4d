//! The Home Assistant app repository (`home-assistant/`), checked against
//! the Supervisor's rules as its developer docs state them (the Supervisor
//! itself cannot run here; only a real Home Assistant OS install would
//! prove it reads the app as we do) and against the bridge that reads its
//! options: the vendor's options with their names and defaults; every
//! schema type one the Supervisor knows; every default valid for its type;
//! every option translated; and every option the schema offers read by the
//! bridge (`--app ... --check`), none it does not offer.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value};

fn app_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../home-assistant/viewtron-bridge")
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn config() -> Map<String, Value> {
    match yaml(&app_dir().join("config.yaml")) {
        Value::Object(map) => map,
        other => panic!("config.yaml is not a mapping: {other}"),
    }
}

/// A schema type as the Supervisor documents them: `str`, `bool`, `int`,
/// `float`, `email`, `url`, `password`, `port`, `match(REGEX)`,
/// `list(a|b|...)`, `device`, `int(min,max)`, `float(min,max)`, each with
/// an optional `?`. Returns the type without `?` and whether it is optional.
fn schema_type(raw: &str) -> (String, bool) {
    let (ty, optional) = match raw.strip_suffix('?') {
        Some(t) => (t, true),
        None => (raw, false),
    };
    let plain = [
        "str", "bool", "int", "float", "email", "url", "password", "port", "device",
    ];
    let ok = plain.contains(&ty)
        || ty.starts_with("match(") && ty.ends_with(')')
        || ty.starts_with("list(") && ty.ends_with(')')
        || ["int(", "float("].iter().any(|p| {
            ty.strip_prefix(p)
                .and_then(|r| r.strip_suffix(')'))
                .is_some_and(|range| range.split(',').count() == 2)
        });
    assert!(ok, "schema type `{raw}` is not one the Supervisor knows");
    (ty.to_owned(), optional)
}

/// Whether `value` is a valid value of schema type `ty`.
fn valid(ty: &str, value: &Value) -> bool {
    let int_in = |v: &Value, lo: i64, hi: i64| v.as_i64().is_some_and(|n| (lo..=hi).contains(&n));
    match ty {
        "str" | "password" => value.is_string(),
        "bool" => value.is_boolean(),
        "int" => value.is_i64(),
        "port" => int_in(value, 1, 65535),
        t if t.starts_with("int(") => {
            let range = &t[4..t.len() - 1];
            let (lo, hi) = range.split_once(',').unwrap();
            int_in(value, lo.parse().unwrap(), hi.parse().unwrap())
        }
        _ => true,
    }
}

#[test]
fn config_yaml_follows_the_supervisors_rules() {
    let c = config();
    for key in ["name", "version", "slug", "description", "arch"] {
        assert!(c.contains_key(key), "config.yaml lacks `{key}`");
    }
    let slug = c["slug"].as_str().unwrap();
    assert!(
        slug.chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-'),
        "slug `{slug}`"
    );
    let arch: BTreeSet<&str> = c["arch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        arch,
        BTreeSet::from(["aarch64", "amd64"]),
        "the supported, non-deprecated arches"
    );
    assert_eq!(
        c["host_network"],
        Value::Bool(true),
        "camera addresses, hence ids, as the vendor's"
    );
    assert!(
        c["services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "mqtt:want"),
        "the broker found by the Supervisor"
    );
    assert!(c["watchdog"].as_str().unwrap().ends_with("/healthz"));
    assert!(
        c["map"].as_array().unwrap().iter().any(|m| m == "share:rw"),
        "images visible"
    );
    let image = c["image"].as_str().unwrap();
    assert!(
        !image.contains("{arch}"),
        "2026.04: one multi-arch manifest, no {{arch}}"
    );
    // Supervisor 2026.04: no build.yaml; the Dockerfile names its base.
    assert!(!app_dir().join("build.yaml").exists());
    let dockerfile = std::fs::read_to_string(app_dir().join("Dockerfile")).unwrap();
    assert!(dockerfile.lines().any(|l| l.starts_with("FROM ")));
    let code = dockerfile
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'));
    assert!(!code.clone().any(|l| l.contains("BUILD_FROM")));
    for file in ["DOCS.md", "CHANGELOG.md", "README.md"] {
        assert!(app_dir().join(file).exists(), "{file}");
    }
    let repository = yaml(&app_dir().join("../repository.yaml"));
    assert!(repository["name"].is_string());
}

#[test]
fn options_match_the_schema_and_the_vendors_defaults() {
    let c = config();
    let options = c["options"].as_object().unwrap();
    let schema = c["schema"].as_object().unwrap();
    for (key, default) in options {
        let raw = schema
            .get(key)
            .unwrap_or_else(|| panic!("option `{key}` not in the schema"));
        match raw {
            Value::String(raw) => {
                let (ty, _) = schema_type(raw);
                assert!(
                    valid(&ty, default),
                    "`{key}`: {default} is not a valid {ty}"
                );
            }
            Value::Array(items) => {
                assert_eq!(items.len(), 1, "`{key}`: a list schema has one item type");
                let (ty, _) = schema_type(items[0].as_str().unwrap());
                for item in default.as_array().expect("a list default") {
                    assert!(valid(&ty, item), "`{key}`: {item}");
                }
            }
            other => panic!("`{key}`: schema {other}"),
        }
    }
    for (key, raw) in schema {
        if let Some(raw) = raw.as_str() {
            let (_, optional) = schema_type(raw);
            assert!(
                optional || options.contains_key(key),
                "required `{key}` has no default"
            );
        }
    }
    // The vendor's app: same names, same defaults (swapping keeps entities).
    let vendor = serde_json::json!({
        "bridge_port": 5002, "mqtt_broker": "core-mosquitto", "mqtt_port": 1883,
        "mqtt_username": "", "mqtt_password": "", "save_images": false
    });
    for (key, value) in vendor.as_object().unwrap() {
        assert_eq!(options.get(key), Some(value), "the vendor's `{key}`");
    }
    // Secrets are hidden in the UI.
    for key in ["mqtt_password", "basic_auth_password"] {
        assert!(
            schema[key].as_str().unwrap().starts_with("password"),
            "`{key}` shown in clear"
        );
    }
}

#[test]
fn every_option_is_translated() {
    let schema: BTreeSet<String> = config()["schema"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let en = yaml(&app_dir().join("translations/en.yaml"));
    let names = en["configuration"].as_object().expect("configuration:");
    let translated: BTreeSet<String> = names.keys().cloned().collect();
    assert_eq!(translated, schema, "translations/en.yaml and the schema");
    for (key, t) in names {
        assert!(
            t["name"].is_string() && t["description"].is_string(),
            "`{key}`"
        );
    }
}

/// `--app FILE --check`: exit status and standard error.
fn check(options: &Value) -> (Option<i32>, String) {
    let dir = std::env::temp_dir().join(format!("viewtron-app-repo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("options-{}.json", rand_suffix()));
    std::fs::write(&path, options.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_viewtron-bridge"))
        .arg("--app")
        .arg(&path)
        .arg("--check")
        .env_remove("SUPERVISOR_TOKEN")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[test]
fn the_bridge_reads_every_option_the_schema_offers() {
    let c = config();
    // As the Supervisor writes it on a fresh install: every default.
    let defaults = Value::Object(c["options"].as_object().unwrap().clone());
    let (status, stderr) = check(&defaults);
    assert_eq!(status, Some(0), "the defaults: {stderr}");
    // Every optional key the schema offers without a default, set: read
    // (an unusable file is a clear error about that option, never an
    // unknown field).
    let schema = c["schema"].as_object().unwrap();
    for key in schema
        .keys()
        .filter(|k| !c["options"].as_object().unwrap().contains_key(*k))
    {
        let mut options = defaults.clone();
        options[key.as_str()] = Value::String("/nonexistent/for-the-test".into());
        let (status, stderr) = check(&options);
        assert!(
            !stderr.contains("unknown field"),
            "`{key}` not read by the bridge: {stderr}"
        );
        assert!(
            status == Some(0)
                || stderr.contains(key.trim_start_matches("mqtt_"))
                || stderr.contains("mqtt.tls"),
            "`{key}`: {stderr}"
        );
    }
    // An option the schema does not offer is refused: the two agree.
    let mut extra = defaults.clone();
    extra["not_an_option"] = Value::Bool(true);
    let (status, stderr) = check(&extra);
    assert_eq!(status, Some(2), "{stderr}");
    assert!(stderr.contains("not_an_option"), "{stderr}");
}
