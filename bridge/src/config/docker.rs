//! The vendor's Docker image: its environment variables, which override the
//! file, and the configuration its start script writes when it has only
//! variables. Their values are read as that script pastes them into YAML.

use super::error::ConfigError;
use super::file::{File, HomeAssistantFile, MqttFile};

/// The Docker image's variables, in the order its start script reads them.
pub(super) const ENV_VARS: [&str; 6] = [
    "BRIDGE_PORT",
    "MQTT_BROKER",
    "MQTT_PORT",
    "MQTT_USERNAME",
    "MQTT_PASSWORD",
    "SAVE_IMAGES",
];

/// What the vendor's Docker start script writes when it has only variables.
pub(super) fn docker_defaults() -> File {
    File {
        save_images: Some(false),
        mqtt: Some(MqttFile {
            enabled: Some(true),
            ..MqttFile::default()
        }),
        home_assistant: Some(HomeAssistantFile {
            url: Some("http://supervisor/core".to_owned()),
            ..HomeAssistantFile::default()
        }),
        ..File::default()
    }
}

pub(super) fn env_number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| {
        ConfigError::new(format!(
            "environment variable {name}: `{value}` is not a valid number"
        ))
    })
}

/// YAML 1.1 booleans, as the vendor's start script pastes the variable into YAML.
pub(super) fn env_bool(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "y" | "1" => Ok(true),
        "false" | "no" | "off" | "n" | "0" => Ok(false),
        _ => Err(ConfigError::new(format!(
            "environment variable {name}: `{value}` is not true or false"
        ))),
    }
}
