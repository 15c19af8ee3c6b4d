//! The Home Assistant app's options (`/data/options.json`, which the
//! Supervisor writes from the app's `schema`), mapped onto the same file
//! model as `config.yaml`, so they go through the same checks and defaults.
//! No start script turns them into YAML (the vendor's `run.sh` does, with
//! every value pasted into the text unquoted).
//!
//! The vendor's options keep their names and defaults, so a user who swaps
//! the vendor's app for ours keeps every setting, hence every entity:
//! `bridge_port` (5002), `mqtt_broker` (`core-mosquitto`), `mqtt_port`
//! (1883), `mqtt_username`, `mqtt_password`, `save_images` (false). Ours:
//! `dedup_seconds` (0: off), `image_retention_days` (7 here: saved images
//! are kept a week, in `/share/viewtron/images`, where the user sees them
//! and where they survive updates), `allow` (networks the cameras post
//! from), `basic_auth_username` / `basic_auth_password`, `mqtt_ca_file`
//! (TLS to the broker), `camera_timeout` (a camera's Connectivity entity
//! turns off after this many silent seconds; 90)
//! (TLS to the broker).
//!
//! The broker: with `mqtt_broker` empty or `auto`, the Supervisor's
//! services API says where it is (`GET /services/mqtt` with the app's
//! `SUPERVISOR_TOKEN`): host, port, username, password, TLS. With a broker
//! named but no username, and the service naming that same host (the
//! vendor's default `core-mosquitto` is the usual case), its credentials
//! are taken from the service too. Options the user set always win.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::ConfigError;
use super::file::{File, HomeAssistantFile, MqttFile, ServerFile, TlsFile};
use super::secret::Secret;

/// Where saved images go in the app: the `share` folder (`map: share:rw`);
/// `VIEWTRON_SHARE_DIR` names another `share` (tests, a plain Linux box).
pub const IMAGE_DIR: &str = "/share/viewtron/images";

/// The options as the Supervisor writes them; every key optional, none
/// unknown (an option the app does not know is a version mismatch).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Options {
    bridge_port: Option<u16>,
    mqtt_broker: Option<String>,
    mqtt_port: Option<u16>,
    mqtt_username: Option<String>,
    mqtt_password: Option<Secret>,
    save_images: Option<bool>,
    dedup_seconds: Option<f64>,
    image_retention_days: Option<f64>,
    allow: Option<Vec<String>>,
    basic_auth_username: Option<String>,
    basic_auth_password: Option<Secret>,
    mqtt_ca_file: Option<PathBuf>,
    camera_timeout: Option<f64>,
}

/// What the Supervisor's services API says of the MQTT broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Secret,
    pub ssl: bool,
}

/// The port the options give the bridge (the vendor's default 5002).
pub(super) fn bridge_port(options: &Options) -> u16 {
    options.bridge_port.unwrap_or(5002)
}

/// Reads the options file.
pub(super) fn read_options(path: &Path) -> Result<Options, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(format!("cannot read {}: {e}", path.display())))?;
    let file = path.display();
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ConfigError::new(format!("app options {file}: not JSON: {e}")))?;
    serde_json::from_value(value.clone()).map_err(|e| {
        // Name the option: serde_json's message alone says only what it
        // expected, not for which key.
        let key = value.as_object().and_then(|map| {
            map.iter().find_map(|(k, v)| {
                let one = serde_json::json!({ k.clone(): v.clone() });
                serde_json::from_value::<Options>(one)
                    .is_err()
                    .then(|| k.clone())
            })
        });
        match key {
            Some(key) => ConfigError::new(format!("app option `{key}` in {file}: {e}")),
            None => ConfigError::new(format!("app options {file}: {e}")),
        }
    })
}

/// The options as the configuration file they stand for. `service` asks
/// the Supervisor for its MQTT broker; it is called only when the options
/// leave the broker (or its login) to it, after every other check.
pub(super) fn to_file(
    options: Options,
    service: &dyn Fn() -> Option<Service>,
) -> Result<File, ConfigError> {
    let basic_auth = match (options.basic_auth_username, options.basic_auth_password) {
        (Some(user), Some(password)) if !user.is_empty() && !password.is_empty() => {
            Some(super::file::BasicAuthFile {
                username: user,
                password,
            })
        }
        (Some(user), _) if !user.is_empty() => {
            return Err(ConfigError::new(
                "basic_auth_username is set but basic_auth_password is empty",
            ))
        }
        _ => None,
    };
    // Absent (the Supervisor writes every option, so only a hand-written
    // file lacks it): the vendor's default.
    let named = options
        .mqtt_broker
        .as_deref()
        .or(Some("core-mosquitto"))
        .map(str::trim)
        .filter(|b| !b.is_empty() && !b.eq_ignore_ascii_case("auto"));
    let mut mqtt = MqttFile {
        enabled: Some(true),
        discovery_prefix: Some("homeassistant".to_owned()),
        topic_prefix: Some("viewtron".to_owned()),
        ..MqttFile::default()
    };
    let username = options
        .mqtt_username
        .clone()
        .filter(|u| !u.trim().is_empty());
    match named {
        // Left to the Supervisor: host, port and login from the service
        // (the `mqtt_port` option is always written, 1883 by default, so it
        // cannot say the user chose it).
        None => {
            let Some(s) = service() else {
                return Err(ConfigError::new(
                    "mqtt_broker is empty (auto) but the Supervisor's MQTT service is not available: \
                     install the Mosquitto broker app, or set mqtt_broker",
                ));
            };
            if s.ssl && options.mqtt_ca_file.is_none() {
                return Err(ConfigError::new(
                    "the Supervisor's MQTT service requires TLS: set mqtt_ca_file to the CA that signed its certificate",
                ));
            }
            mqtt.broker = Some(s.host);
            mqtt.port = Some(s.port);
            mqtt.username = Some(s.username);
            mqtt.password = Some(s.password);
        }
        Some(host) => {
            mqtt.broker = Some(host.to_owned());
            mqtt.port = Some(options.mqtt_port.unwrap_or(1883));
            if let Some(user) = username {
                mqtt.username = Some(user);
                mqtt.password = options.mqtt_password.clone();
            } else if let Some(s) = service().filter(|s| s.host.eq_ignore_ascii_case(host)) {
                // The broker the user named is the service's: its login.
                mqtt.username = Some(s.username);
                mqtt.password = Some(s.password);
            }
        }
    }
    mqtt.camera_timeout = options.camera_timeout;
    if let Some(ca_file) = options.mqtt_ca_file.clone() {
        mqtt.tls = Some(TlsFile {
            ca_file: Some(ca_file),
            ..TlsFile::default()
        });
    }
    Ok(File {
        bridge_port: Some(options.bridge_port.unwrap_or(5002)),
        save_images: Some(options.save_images.unwrap_or(false)),
        image_dir: Some(PathBuf::from(IMAGE_DIR)),
        // 0 keeps images for ever (no retention).
        image_retention_days: Some(options.image_retention_days.unwrap_or(7.0))
            .filter(|d| *d > 0.0),
        dedup_seconds: options.dedup_seconds.filter(|s| *s > 0.0),
        mqtt: Some(mqtt),
        home_assistant: Some(HomeAssistantFile {
            url: Some("http://supervisor/core".to_owned()),
            ..HomeAssistantFile::default()
        }),
        server: Some(ServerFile {
            allow: options.allow.filter(|a| !a.is_empty()),
            basic_auth,
            ..ServerFile::default()
        }),
        ..File::default()
    })
}

/// Asks the Supervisor's services API for the MQTT broker: `base` is
/// `http://supervisor`. `Ok(None)`: no such service (the Mosquitto app is
/// not installed), which the Supervisor answers with an error status.
pub(super) fn ask_supervisor(base: &str, token: &str) -> Result<Option<Service>, ConfigError> {
    #[derive(Deserialize)]
    struct Answer {
        data: Option<Data>,
    }
    #[derive(Deserialize)]
    struct Data {
        host: String,
        port: u16,
        #[serde(default)]
        ssl: bool,
        #[serde(default)]
        username: String,
        #[serde(default)]
        password: Secret,
    }
    let url = format!("{}/services/mqtt", base.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .map_err(|e| {
            ConfigError::new(format!(
                "cannot ask the Supervisor for the MQTT broker ({url}): {e}"
            ))
        })?;
    if !response.status().is_success() {
        log::debug!(
            "the Supervisor has no MQTT service ({url}: {}); is the Mosquitto broker app installed?",
            response.status()
        );
        return Ok(None);
    }
    let text = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .map_err(|e| ConfigError::new(format!("the Supervisor's answer from {url}: {e}")))?;
    let answer: Answer = serde_json::from_str(&text)
        .map_err(|e| ConfigError::new(format!("the Supervisor's answer from {url}: {e}")))?;
    Ok(answer.data.map(|d| Service {
        host: d.host,
        port: d.port,
        username: d.username,
        password: d.password,
        ssl: d.ssl,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(json: &str) -> Options {
        serde_json::from_str(json).unwrap()
    }

    fn service() -> Service {
        Service {
            host: "core-mosquitto".into(),
            port: 1883,
            username: "addons".into(),
            password: "s3rv1ce".into(),
            ssl: false,
        }
    }

    #[test]
    fn the_vendors_options_map_one_to_one() {
        let o = options(
            r#"{"bridge_port":5003,"mqtt_broker":"192.168.1.5","mqtt_port":1884,
                "mqtt_username":"u","mqtt_password":"p","save_images":true}"#,
        );
        let f = to_file(o, &|| panic!("the Supervisor is not asked")).unwrap();
        assert_eq!(f.bridge_port, Some(5003));
        assert_eq!(f.save_images, Some(true));
        let m = f.mqtt.unwrap();
        assert_eq!(m.broker.as_deref(), Some("192.168.1.5"));
        assert_eq!(m.port, Some(1884));
        assert_eq!(m.username.as_deref(), Some("u"));
        assert_eq!(m.password.unwrap().expose(), "p");
        assert_eq!(f.image_dir, Some(PathBuf::from(IMAGE_DIR)));
        assert_eq!(f.image_retention_days, Some(7.0));
    }

    #[test]
    fn an_empty_or_auto_broker_comes_from_the_supervisor() {
        for broker in ["", "auto", "AUTO"] {
            let o = options(&format!(r#"{{"mqtt_broker":"{broker}","mqtt_port":1883}}"#));
            let m = to_file(o.clone(), &|| Some(service()))
                .unwrap()
                .mqtt
                .unwrap();
            assert_eq!(m.broker.as_deref(), Some("core-mosquitto"));
            assert_eq!(m.username.as_deref(), Some("addons"));
            // The service's port, not the option's default 1883.
            let elsewhere = Service {
                port: 1884,
                ..service()
            };
            let m = to_file(o.clone(), &|| Some(elsewhere.clone()))
                .unwrap()
                .mqtt
                .unwrap();
            assert_eq!(m.port, Some(1884));
            let err = to_file(o, &|| None).unwrap_err();
            assert!(err.to_string().contains("Mosquitto"), "{err}");
        }
    }

    #[test]
    fn the_vendors_default_broker_without_a_login_takes_the_services_login() {
        let o = options(r#"{"mqtt_broker":"core-mosquitto","mqtt_username":""}"#);
        let m = to_file(o, &|| Some(service())).unwrap().mqtt.unwrap();
        assert_eq!(m.username.as_deref(), Some("addons"));
        // Another broker named: nothing taken from the service.
        let o = options(r#"{"mqtt_broker":"10.0.0.9"}"#);
        let m = to_file(o, &|| Some(service())).unwrap().mqtt.unwrap();
        assert_eq!(m.username, None);
    }

    #[test]
    fn a_tls_service_without_a_ca_file_is_a_clear_error() {
        let tls = Service {
            ssl: true,
            ..service()
        };
        let err = to_file(options(r#"{"mqtt_broker":"auto"}"#), &|| Some(tls.clone())).unwrap_err();
        assert!(err.to_string().contains("mqtt_ca_file"), "{err}");
    }

    #[test]
    fn unknown_options_and_half_a_login_are_errors() {
        assert!(serde_json::from_str::<Options>(r#"{"mqtt_brokr":"x"}"#).is_err());
        let o = options(r#"{"mqtt_broker":"b","basic_auth_username":"cam"}"#);
        assert!(to_file(o, &|| panic!("asked before the options were checked")).is_err());
    }
}
