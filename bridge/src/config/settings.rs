//! What the bridge runs with, once read and checked: the types `load`
//! returns. A leaf below the loader (`mod.rs`) and the `--check` report
//! (`report.rs`), which both build on them.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use viewtron::Cidr;

use super::secret::Secret;

/// Categories a webhook can be configured for (tracking posts are never
/// forwarded), plus the catch-all.
pub const WEBHOOK_KEYS: [&str; 6] = ["lpr", "intrusion", "face", "counting", "metadata", "all"];

/// Everything the bridge runs with, defaults filled in.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the configuration came from (for the banner).
    pub source: String,
    pub bridge_port: u16,
    pub save_images: bool,
    /// Absolute folder for saved images.
    pub image_dir: PathBuf,
    pub image_retention: Option<Duration>,
    pub image_max_bytes: Option<u64>,
    pub dedup: Option<Duration>,
    /// Absolute folder for the bridge's state (`cameras.json`).
    pub state_dir: PathBuf,
    /// `None` when MQTT is disabled.
    pub mqtt: Option<Mqtt>,
    /// `None` when no webhook is configured.
    pub webhooks: Option<Webhooks>,
    pub server: ServerOptions,
    /// `page:` the installer's page; `None` when off (the default).
    pub page: Option<PageOptions>,
}

/// The installer's page (`page:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageOptions {
    /// A camera shows as quiet after this long without a post or keepalive.
    pub quiet_after: Duration,
    /// Keep and show the events' pictures.
    pub pictures: bool,
}

/// The MQTT side.
#[derive(Debug, Clone)]
pub struct Mqtt {
    pub broker: String,
    pub port: u16,
    /// Empty: connect without credentials (as the vendor does).
    pub username: String,
    pub password: Secret,
    pub discovery_prefix: String,
    pub topic_prefix: String,
    pub expire_after: u32,
    pub client_id: String,
    pub queue_capacity: usize,
    pub queue_max_bytes: usize,
    /// How long the not-retained messages of a new entity's first events
    /// wait after its discovery config (Home Assistant subscribes late).
    pub first_state_delay: Duration,
    /// Home Assistant `event` entities next to the vendor's sensors.
    pub event_entities: bool,
    /// Connectivity entities: offline after this long without a post;
    /// `None` (`camera_timeout: 0`) for none.
    pub camera_timeout: Option<Duration>,
    /// `mqtt.tls`: TLS to the broker, its files checked at load.
    pub tls: Option<crate::tls::TlsFiles>,
}

impl Mqtt {
    /// This bridge's availability topic (retained `online` / `offline`).
    pub fn availability_topic(&self) -> String {
        format!(
            "{}/bridge/{}/availability",
            self.topic_prefix, self.client_id
        )
    }
}

/// Home Assistant webhooks.
#[derive(Debug, Clone)]
pub struct Webhooks {
    /// `url` without trailing slashes.
    pub url: String,
    /// Category (or `all`) to webhook id.
    pub ids: BTreeMap<String, String>,
    pub timeout: Duration,
    pub retries: u32,
    pub queue: usize,
}

impl Webhooks {
    /// The webhook id for a category: its own, else `all`, as the vendor does.
    pub fn id_for(&self, category: &str) -> Option<&str> {
        self.ids
            .get(category)
            .filter(|id| !id.is_empty())
            .or_else(|| self.ids.get("all").filter(|id| !id.is_empty()))
            .map(String::as_str)
    }
}

/// The library server's settings (the `server:` key).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub bind: IpAddr,
    pub workers: Option<usize>,
    pub max_body: Option<usize>,
    pub read_timeout: Option<Duration>,
    pub body_timeout: Option<Duration>,
    pub max_per_address: Option<usize>,
    pub max_workers: Option<usize>,
    pub allow: Vec<Cidr>,
    pub trusted_proxies: Vec<Cidr>,
    pub paths: Vec<String>,
    pub basic_auth: Option<(String, Secret)>,
}

/// Where to read the configuration from.
#[derive(Debug, Clone)]
pub enum Source {
    /// `--config PATH`: the file must exist.
    File(PathBuf),
    /// No `--config`: `./config.yaml` when it exists; otherwise the Home
    /// Assistant app's options when `/data/options.json` exists; otherwise,
    /// when any of the Docker image's variables is set, that image's
    /// defaults.
    Default,
    /// `--app [OPTIONS]`: the Home Assistant app's options (default
    /// `/data/options.json`), see `config/app.rs`.
    App(PathBuf),
}
