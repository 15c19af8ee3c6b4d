//! The bridge's configuration: the vendor bridge's `config.yaml` (same keys,
//! same meanings, same defaults) with the Docker image's environment
//! variables on top, plus our own additions under keys the vendor never used.
//!
//! Why so strict: the vendor's bridge reads the file with a dictionary lookup
//! per key, so a misspelt key (`save_image:`) is silently ignored and a wrong
//! type surfaces as a crash on the first event. Here every key is known, typed
//! and checked before anything starts; a problem is one line naming the key
//! and the bridge exits with status 2.
//!
//! Where things are: `file` is the file as written (every key optional, none
//! unknown), `docker` the Docker image's variables and the defaults its start
//! script writes; this module resolves them into a [`Config`], defaults
//! filled in and every value checked. `report` says, for `--check`, what
//! came from where and what looks like a mistake.
//!
//! Layout (vendor keys first, ours marked):
//!
//! ```yaml
//! bridge_port: 5002          # env BRIDGE_PORT
//! save_images: true          # env SAVE_IMAGES
//! image_dir: images          # ours: relative to the config file's folder
//! image_retention_days: 30   # ours: delete saved images older than this
//! image_max_mb: 500          # ours: keep the image folder under this size
//! dedup_seconds: 10          # ours: same camera + plate within 10 s published once
//! state_dir: state           # ours: the camera list (default $STATE_DIRECTORY, else state/ by the config file)
//! mqtt:
//!   enabled: true
//!   broker: localhost        # env MQTT_BROKER
//!   port: 1883               # env MQTT_PORT
//!   username: user           # env MQTT_USERNAME
//!   password: pass           # env MQTT_PASSWORD
//!   discovery_prefix: homeassistant
//!   topic_prefix: viewtron
//!   expire_after: 30
//!   client_id: viewtron-bridge-gate   # ours: default viewtron-bridge-<host>-<port>
//!   queue_capacity: 10000             # ours: messages held while the broker is away or slow
//!   queue_max_mb: 64                  # ours: ... and their bytes at most
//!   first_state_delay: 1              # ours: seconds a new entity's first state waits
//!   event_entities: true              # ours: Home Assistant event entities
//!   camera_timeout: 90                # ours: connectivity off after this many silent seconds (0: no entities)
//! home_assistant:
//!   url: http://localhost:8123
//!   webhooks: {lpr: viewtron-lpr, all: viewtron-all}
//!   webhook_timeout: 5       # ours: seconds per attempt
//!   webhook_retries: 2       # ours: further attempts after a failure
//!   webhook_queue: 1000      # ours: webhooks waiting to be sent
//! server:                    # ours: the library server's hardening settings
//!   bind: "::"
//!   workers: 8
//!   max_body: 16777216
//!   read_timeout: 150
//!   body_timeout: 30         # seconds for a whole body, else 408 (slow clients)
//!   max_per_address: 8       # requests in progress from one camera address, else 429
//!   max_workers: 128         # spare workers while slow bodies hold some
//!   allow: [192.168.1.0/24]
//!   trusted_proxies: [127.0.0.1]   # believe X-Forwarded-For from these (nginx in front)
//!   paths: [/API]
//!   basic_auth: {username: camera, password: secret}
//! page:                      # ours: the installer's page at GET / (off by default)
//!   enabled: true
//!   quiet_after: 90          # seconds without a post or keepalive: shown quiet
//!   pictures: true           # keep and show the latest events' pictures
//! ```

mod app;
mod docker;
mod error;
mod file;
mod report;
mod secret;
mod settings;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use viewtron::Cidr;

use docker::{docker_defaults, env_bool, env_number, ENV_VARS};
pub use error::ConfigError;
use file::{read_file, File};
pub use report::Report;
pub use secret::{webhook_id_hint, webhook_url_hint, Secret};
pub use settings::{Config, Mqtt, PageOptions, ServerOptions, Source, Webhooks, WEBHOOK_KEYS};

/// Reads and checks the configuration; `env` looks up environment variables.
pub fn load(source: &Source, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    let read = read(source, &env)?;
    let env = read.variables(&env);
    resolve(read.file, read.origin, &read.base, &env)
}

/// Where the bridge listens (bind address, port), for `--health`: what
/// [`load`] would give, but without asking the Supervisor anything in app
/// mode, where the health check runs every 30 s and needs the port alone.
pub fn listen_addr(
    source: &Source,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(IpAddr, u16), ConfigError> {
    if let Some(path) = app_options(source) {
        let port = app::bridge_port(&app::read_options(path)?);
        return Ok((IpAddr::V6(Ipv6Addr::UNSPECIFIED), port));
    }
    let config = load(source, env)?;
    Ok((config.server.bind, config.bridge_port))
}

/// [`load`], for `--check`: the same errors, and on success what the
/// configuration resolves to in the file's terms, where each value came
/// from, and warnings (see [`Report`]).
pub fn check(source: &Source, env: impl Fn(&str) -> Option<String>) -> Result<Report, ConfigError> {
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    let read = read(source, &env)?;
    let written = read.file.clone();
    let env = read.variables(&env);
    let config = resolve(read.file, read.origin, &read.base, &env)?;
    let env_set: Vec<&'static str> = ENV_VARS.into_iter().filter(|v| env(v).is_some()).collect();
    Ok(report::build(&written, read.docker, &env_set, &config))
}

/// The configuration as written, before defaults and variables.
struct Read {
    file: File,
    /// For the banner: the file's path, or that the Docker defaults apply.
    origin: String,
    /// The folder `image_dir` is relative to.
    base: PathBuf,
    /// No file: `file` is what the Docker image's start script writes.
    docker: bool,
    /// The Home Assistant app's options: the Docker variables do not apply
    /// (the image may set them; the options are what the user chose).
    app: bool,
}

impl Read {
    /// The environment as the configuration sees it.
    fn variables<'a>(
        &self,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> impl Fn(&str) -> Option<String> + 'a {
        let app = self.app;
        move |name: &str| {
            if app && ENV_VARS.contains(&name) {
                None
            } else {
                env(name)
            }
        }
    }
}

fn read(source: &Source, env: &dyn Fn(&str) -> Option<String>) -> Result<Read, ConfigError> {
    let from_file = |path: &Path, origin: String| -> Result<Read, ConfigError> {
        Ok(Read {
            file: read_file(path)?,
            origin,
            base: parent(path),
            docker: false,
            app: false,
        })
    };
    match source {
        Source::File(path) => from_file(path, path.display().to_string()),
        Source::App(path) => from_app(path, env),
        Source::Default => {
            let path = Path::new("config.yaml");
            if let Some(options) = app_options(source) {
                from_app(options, env)
            } else if path.exists() {
                from_file(path, "config.yaml".to_owned())
            } else if ENV_VARS.iter().any(|v| env(v).is_some()) {
                Ok(Read {
                    file: docker_defaults(),
                    origin: "environment (Docker image defaults)".to_owned(),
                    base: cwd()?,
                    docker: true,
                    app: false,
                })
            } else {
                Err(ConfigError::new(
                    "no configuration: config.yaml not found here; give --config PATH \
                     (or set MQTT_BROKER etc. as for the vendor's Docker image)",
                ))
            }
        }
    }
}

/// Where the Supervisor writes a Home Assistant app's options.
pub const APP_OPTIONS: &str = "/data/options.json";

/// The app's options file when `source` means the app: `--app`, or no
/// `--config`, no `./config.yaml` and [`APP_OPTIONS`] present.
fn app_options(source: &Source) -> Option<&Path> {
    match source {
        Source::App(path) => Some(path),
        Source::Default
            if !Path::new("config.yaml").exists() && Path::new(APP_OPTIONS).exists() =>
        {
            Some(Path::new(APP_OPTIONS))
        }
        _ => None,
    }
}

/// The app's options, with the broker asked of the Supervisor when they
/// leave it to it (`SUPERVISOR_TOKEN` is set in every app; the base URL can
/// be changed with `VIEWTRON_SUPERVISOR_URL`, for tests).
fn from_app(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Read, ConfigError> {
    let options = app::read_options(path)?;
    // Asked only when the options leave the broker (or its login) to the
    // Supervisor; when it cannot answer, the error about the broker says so.
    let service = || {
        let base = env("VIEWTRON_SUPERVISOR_URL").unwrap_or_else(|| "http://supervisor".to_owned());
        let Some(token) = env("SUPERVISOR_TOKEN") else {
            log::debug!("no SUPERVISOR_TOKEN: the Supervisor cannot be asked for the MQTT broker");
            return None;
        };
        app::ask_supervisor(&base, &token)
            .map_err(|e| log::debug!("{e}"))
            .ok()
            .flatten()
    };
    let mut file = app::to_file(options, &service)?;
    // The app's `share` folder; elsewhere (tests, a plain Linux box trying
    // the app mode) `VIEWTRON_SHARE_DIR` says where it is.
    if let Some(share) = env("VIEWTRON_SHARE_DIR") {
        file.image_dir = Some(Path::new(&share).join("viewtron/images"));
    }
    app_page(&mut file);
    Ok(Read {
        file,
        origin: format!("Home Assistant app options ({})", path.display()),
        base: parent(path),
        docker: false,
        app: true,
    })
}

/// Home Assistant's ingress proxy: the Supervisor, on its own network.
pub const INGRESS_PROXY: &str = "172.30.32.2";

/// In the app the installer's page is on, opened through ingress (Home
/// Assistant's login in front); a non-empty `allow` (the cameras'
/// networks) must then admit the ingress proxy too.
fn app_page(file: &mut File) {
    let page = file.page.get_or_insert_with(file::PageFile::default);
    page.enabled = Some(true);
    if let Some(allow) = file.server.as_mut().and_then(|s| s.allow.as_mut()) {
        if !allow.iter().any(|a| a == INGRESS_PROXY) {
            allow.push(INGRESS_PROXY.to_owned());
        }
    }
}

fn parent(path: &Path) -> PathBuf {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

fn cwd() -> Result<PathBuf, ConfigError> {
    std::env::current_dir()
        .map_err(|e| ConfigError::new(format!("cannot read the current folder: {e}")))
}

fn seconds(key: &str, value: f64) -> Result<Duration, ConfigError> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            ConfigError::new(format!(
                "{key}: must be a positive number of seconds, not {value}"
            ))
        })
}

fn resolve(
    file: File,
    source: String,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let bridge_port = match env("BRIDGE_PORT") {
        Some(v) => env_number("BRIDGE_PORT", &v)?,
        None => file.bridge_port.unwrap_or(5002),
    };
    // The vendor's code defaults save_images to true when the key is absent.
    let save_images = match env("SAVE_IMAGES") {
        Some(v) => env_bool("SAVE_IMAGES", &v)?,
        None => file.save_images.unwrap_or(true),
    };
    let image_dir = base.join(file.image_dir.unwrap_or_else(|| PathBuf::from("images")));
    let image_retention = file
        .image_retention_days
        .map(|d| seconds("image_retention_days", d * 86_400.0))
        .transpose()?;
    let image_max_bytes = match file.image_max_mb {
        Some(mb) if mb.is_finite() && mb > 0.0 => Some((mb * 1024.0 * 1024.0) as u64),
        Some(mb) => {
            return Err(ConfigError::new(format!(
                "image_max_mb: must be a positive number, not {mb}"
            )))
        }
        None => None,
    };
    let dedup = file
        .dedup_seconds
        .filter(|s| *s != 0.0)
        .map(|s| seconds("dedup_seconds", s))
        .transpose()?;

    let m = file.mqtt.unwrap_or_default();
    // Checked even with MQTT off: a bad variable is a mistake worth saying.
    let env_port: Option<u16> = env("MQTT_PORT")
        .map(|v| env_number("MQTT_PORT", &v))
        .transpose()?;
    let mqtt = if m.enabled.unwrap_or(false) {
        let port = env_port.or(m.port).unwrap_or(1883);
        let client_id = match m.client_id {
            Some(id) if id.is_empty() => {
                return Err(ConfigError::new("mqtt.client_id: must not be empty"))
            }
            Some(id) => id,
            None => default_client_id(bridge_port),
        };
        let queue_capacity = m.queue_capacity.unwrap_or(10_000);
        if queue_capacity == 0 {
            return Err(ConfigError::new("mqtt.queue_capacity: must be at least 1"));
        }
        let queue_max_bytes = match m.queue_max_mb {
            Some(mb) if mb.is_finite() && mb > 0.0 => (mb * 1024.0 * 1024.0) as usize,
            Some(mb) => {
                return Err(ConfigError::new(format!(
                    "mqtt.queue_max_mb: must be a positive number, not {mb}"
                )))
            }
            None => 64 << 20,
        };
        let first_state_delay = match m.first_state_delay {
            Some(s) if s.is_finite() && (0.0..=60.0).contains(&s) => Duration::from_secs_f64(s),
            Some(s) => {
                return Err(ConfigError::new(format!(
                    "mqtt.first_state_delay: must be between 0 and 60 seconds, not {s}"
                )))
            }
            None => Duration::from_secs(1),
        };
        let camera_timeout = match m.camera_timeout {
            Some(0.0) => None,
            Some(s) if s.is_finite() && (1.0..=86_400.0).contains(&s) => {
                Some(Duration::from_secs_f64(s))
            }
            Some(s) => {
                return Err(ConfigError::new(format!(
                    "mqtt.camera_timeout: must be 0 (off) or between 1 and 86400 seconds, not {s}"
                )))
            }
            None => Some(Duration::from_secs(90)),
        };
        let tls = m.tls.map(|t| tls_files(t, base)).transpose()?;
        let discovery_prefix =
            topic_part("mqtt.discovery_prefix", m.discovery_prefix, "homeassistant")?;
        let topic_prefix = topic_part("mqtt.topic_prefix", m.topic_prefix, "viewtron")?;
        if client_id.contains(['+', '#', '/']) {
            return Err(ConfigError::new(format!(
                "mqtt.client_id: `{client_id}` must not contain +, # or /"
            )));
        }
        Some(Mqtt {
            broker: env("MQTT_BROKER")
                .or(m.broker)
                .unwrap_or_else(|| "localhost".to_owned()),
            port,
            username: env("MQTT_USERNAME").or(m.username).unwrap_or_default(),
            password: env("MQTT_PASSWORD")
                .map(Secret)
                .or(m.password)
                .unwrap_or_default(),
            discovery_prefix,
            topic_prefix,
            expire_after: m.expire_after.unwrap_or(30),
            client_id,
            queue_capacity,
            queue_max_bytes,
            first_state_delay,
            event_entities: m.event_entities.unwrap_or(true),
            camera_timeout,
            tls,
        })
    } else {
        None
    };

    let ha = file.home_assistant.unwrap_or_default();
    let ids: BTreeMap<String, String> = ha
        .webhooks
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k, v)))
        .collect();
    if let Some(bad) = ids.keys().find(|k| !WEBHOOK_KEYS.contains(&k.as_str())) {
        return Err(ConfigError::new(format!(
            "home_assistant.webhooks: unknown category `{bad}` (expected one of {})",
            WEBHOOK_KEYS.join(", ")
        )));
    }
    let webhooks = if ids.is_empty() {
        None
    } else {
        let url = ha.url.unwrap_or_default();
        if url.trim().is_empty() {
            return Err(ConfigError::new(
                "home_assistant.url: needed when home_assistant.webhooks is set",
            ));
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::new(format!(
                "home_assistant.url: `{url}` is not an http:// or https:// URL"
            )));
        }
        let queue = ha.webhook_queue.unwrap_or(1000);
        if queue == 0 {
            return Err(ConfigError::new(
                "home_assistant.webhook_queue: must be at least 1",
            ));
        }
        Some(Webhooks {
            url: url.trim_end_matches('/').to_owned(),
            ids,
            timeout: seconds(
                "home_assistant.webhook_timeout",
                ha.webhook_timeout.unwrap_or(5.0),
            )?,
            retries: ha.webhook_retries.unwrap_or(2),
            queue,
        })
    };

    let s = file.server.unwrap_or_default();
    let networks = |key: &str, list: Option<Vec<String>>| {
        list.unwrap_or_default()
            .iter()
            .map(|a| {
                a.parse::<Cidr>()
                    .map_err(|e| ConfigError::new(format!("{key}: `{a}`: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let allow = networks("server.allow", s.allow)?;
    let trusted_proxies = networks("server.trusted_proxies", s.trusted_proxies)?;
    let server = ServerOptions {
        bind: s.bind.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        workers: s.workers,
        max_body: s.max_body,
        read_timeout: s
            .read_timeout
            .map(|t| seconds("server.read_timeout", t))
            .transpose()?,
        body_timeout: s
            .body_timeout
            .map(|t| seconds("server.body_timeout", t))
            .transpose()?,
        max_per_address: s.max_per_address,
        max_workers: s.max_workers,
        allow,
        trusted_proxies,
        paths: s.paths.unwrap_or_default(),
        basic_auth: s.basic_auth.map(|a| (a.username, a.password)),
    };

    // systemd's StateDirectory= says where (its first folder), else next to
    // the configuration, as image_dir.
    let state_dir = match (file.state_dir, env("STATE_DIRECTORY")) {
        (Some(dir), _) => base.join(dir),
        (None, Some(dirs)) => PathBuf::from(dirs.split(':').next().unwrap_or_default()),
        (None, None) => base.join("state"),
    };
    let p = file.page.unwrap_or_default();
    let page = if p.enabled.unwrap_or(false) {
        let quiet_after = match p.quiet_after {
            Some(s) if s.is_finite() && (1.0..=86_400.0).contains(&s) => Duration::from_secs_f64(s),
            Some(s) => {
                return Err(ConfigError::new(format!(
                    "page.quiet_after: must be between 1 and 86400 seconds, not {s}"
                )))
            }
            None => Duration::from_secs(90),
        };
        Some(PageOptions {
            quiet_after,
            pictures: p.pictures.unwrap_or(true),
        })
    } else {
        None
    };
    Ok(Config {
        source,
        bridge_port,
        save_images,
        image_dir,
        image_retention,
        image_max_bytes,
        dedup,
        state_dir,
        mqtt,
        webhooks,
        server,
        page,
    })
}

/// A topic prefix: not empty, no MQTT wildcards, no leading or trailing `/`.
/// `mqtt.tls`, its paths relative to the config file's folder, its files
/// read and checked now.
fn tls_files(t: file::TlsFile, base: &Path) -> Result<crate::tls::TlsFiles, ConfigError> {
    let ca_file = t.ca_file.ok_or_else(|| {
        ConfigError::new("mqtt.tls.ca_file: required (the CA that signed the broker's certificate)")
    })?;
    let client = match (t.cert_file, t.key_file) {
        (Some(cert), Some(key)) => Some((base.join(cert), base.join(key))),
        (None, None) => None,
        _ => {
            return Err(ConfigError::new(
                "mqtt.tls: cert_file and key_file go together",
            ))
        }
    };
    let files = crate::tls::TlsFiles {
        ca_file: base.join(ca_file),
        client,
    };
    crate::tls::client_config(&files).map_err(|e| ConfigError::new(e.to_string()))?;
    Ok(files)
}

fn topic_part(key: &str, value: Option<String>, default: &str) -> Result<String, ConfigError> {
    let value = value.unwrap_or_else(|| default.to_owned());
    if value.is_empty()
        || value.contains(['+', '#'])
        || value.starts_with('/')
        || value.ends_with('/')
    {
        return Err(ConfigError::new(format!(
            "{key}: `{value}` is not a usable topic prefix (empty, wildcards, or a leading/trailing /)"
        )));
    }
    Ok(value)
}

/// `viewtron-bridge-<host>-<port>`: distinct for every bridge running at once
/// (one port per host), and stable across restarts, so the broker never holds
/// a pile of retained availability topics of client ids long gone.
fn default_client_id(port: u16) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("pid{}", std::process::id()));
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("viewtron-bridge-{host}-{port}")
}

#[cfg(test)]
mod tests;
