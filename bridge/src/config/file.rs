//! The configuration file as written: every key optional, none unknown
//! (`deny_unknown_fields`, so that `save_image:` is an error rather than a
//! setting silently ignored, as in the vendor's bridge), and a YAML error
//! turned into one line that names the key.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::ConfigError;
use super::secret::Secret;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
    pub(super) bridge_port: Option<u16>,
    pub(super) save_images: Option<bool>,
    pub(super) image_dir: Option<PathBuf>,
    pub(super) image_retention_days: Option<f64>,
    pub(super) image_max_mb: Option<f64>,
    pub(super) dedup_seconds: Option<f64>,
    pub(super) state_dir: Option<PathBuf>,
    pub(super) mqtt: Option<MqttFile>,
    pub(super) home_assistant: Option<HomeAssistantFile>,
    pub(super) server: Option<ServerFile>,
    pub(super) page: Option<PageFile>,
}

/// `page:`, the installer's page (ours).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PageFile {
    pub(super) enabled: Option<bool>,
    pub(super) quiet_after: Option<f64>,
    pub(super) pictures: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MqttFile {
    pub(super) enabled: Option<bool>,
    pub(super) broker: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) username: Option<String>,
    pub(super) password: Option<Secret>,
    pub(super) discovery_prefix: Option<String>,
    pub(super) topic_prefix: Option<String>,
    pub(super) expire_after: Option<u32>,
    pub(super) client_id: Option<String>,
    pub(super) queue_capacity: Option<usize>,
    pub(super) queue_max_mb: Option<f64>,
    pub(super) first_state_delay: Option<f64>,
    pub(super) event_entities: Option<bool>,
    pub(super) camera_timeout: Option<f64>,
    pub(super) tls: Option<TlsFile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TlsFile {
    pub(super) ca_file: Option<PathBuf>,
    pub(super) cert_file: Option<PathBuf>,
    pub(super) key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HomeAssistantFile {
    pub(super) url: Option<String>,
    pub(super) webhooks: Option<BTreeMap<String, Option<String>>>,
    pub(super) webhook_timeout: Option<f64>,
    pub(super) webhook_retries: Option<u32>,
    pub(super) webhook_queue: Option<usize>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ServerFile {
    pub(super) bind: Option<IpAddr>,
    pub(super) workers: Option<usize>,
    pub(super) max_body: Option<usize>,
    pub(super) read_timeout: Option<f64>,
    pub(super) body_timeout: Option<f64>,
    pub(super) max_per_address: Option<usize>,
    pub(super) max_workers: Option<usize>,
    pub(super) allow: Option<Vec<String>>,
    pub(super) trusted_proxies: Option<Vec<String>>,
    pub(super) paths: Option<Vec<String>>,
    pub(super) basic_auth: Option<BasicAuthFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BasicAuthFile {
    pub(super) username: String,
    pub(super) password: Secret,
}

pub(super) fn read_file(path: &Path) -> Result<File, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(format!("cannot read {}: {}", path.display(), e)))?;
    parse_file(&text, &path.display().to_string())
}

pub(super) fn parse_file(text: &str, origin: &str) -> Result<File, ConfigError> {
    if text.trim().is_empty() {
        return Ok(File::default());
    }
    // `Option<File>`: a document holding only comments is YAML null.
    let file: Option<File> = serde_saphyr::from_str(text).map_err(|e| {
        let message = one_line(&e.to_string());
        // Name the key on the line the parser points at: "invalid u16" alone
        // does not say which setting is wrong.
        let key = e
            .location()
            .and_then(|l| text.lines().nth((l.line() as usize).saturating_sub(1)))
            .and_then(|line| line.split_once(':'))
            .map(|(k, _)| k.trim().trim_start_matches("- ").trim())
            .filter(|k| {
                !k.is_empty() && !k.starts_with('#') && !message.contains(&format!("`{k}`"))
            })
            .map(|k| format!(" (key `{k}`)"))
            .unwrap_or_default();
        ConfigError::new(format!("{origin}: {message}{key}"))
    })?;
    Ok(file.unwrap_or_default())
}

/// The first line of a possibly multi-line message, without the snippet.
fn one_line(message: &str) -> String {
    let first = message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid YAML");
    first.trim_start_matches("error: ").to_owned()
}
