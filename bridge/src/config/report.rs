//! What `--check` prints: every setting in the file's own terms (the dotted
//! YAML keys a user writes in `config.yaml`), its effective value, and where
//! that value came from (the file, one of the Docker image's variables, or
//! the default), then warnings about combinations the loader accepts but
//! that would not do what the user most likely wants.
//!
//! Why not `{config:#?}`: the resolved [`Config`] is in the bridge's terms
//! (bytes, durations, absolute paths, `Option`s, Rust syntax), and it cannot
//! say whether a value was written, came from a variable or is a default,
//! which is the question of someone checking a configuration.
//!
//! Why provenance is worked out here rather than in `resolve`: the rule is
//! short and fixed (a variable, when set, beats the file, which beats the
//! default), and only six keys have a variable, so it is enough to know the
//! file as written and which variables were set. `resolve` stays the one
//! place that checks and converts values, and `load` is unchanged. Values
//! shown are the resolved ones (defaults filled in, variables applied),
//! except numbers the file gives in its own units (days, MiB, seconds), shown
//! as written rather than converted back from bytes or durations.
//!
//! Passwords ([`Secret`]) show only whether they are set, never their text
//! nor their length. Webhook ids are no [`Secret`] (the start-up banner logs
//! them too), so they are shown.

use std::fmt;

use super::file::{File, HomeAssistantFile, MqttFile, PageFile, ServerFile};
use super::secret::{webhook_id_hint, Secret};
use super::settings::Config;

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Written in the configuration file.
    File,
    /// One of the Docker image's variables, which beat the file.
    Env(&'static str),
    /// Not written anywhere: the bridge's default.
    Default,
    /// No file: what the Docker image's start script writes.
    DockerDefault,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File => f.write_str("file"),
            Origin::Env(name) => write!(f, "env {name}"),
            Origin::Default => f.write_str("default"),
            Origin::DockerDefault => f.write_str("default (Docker image)"),
        }
    }
}

/// The checked configuration as a user reads it; `Display` is the
/// `--check` output.
#[derive(Debug, Clone)]
pub struct Report {
    /// The file's path, or that the Docker image's defaults apply.
    pub source: String,
    /// Key, value, origin: in the order of the README's table.
    pub rows: Vec<(String, String, Origin)>,
    /// One line each, without the `warning: ` prefix.
    pub warnings: Vec<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "configuration OK: {}", self.source)?;
        let key_width = self.rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let value_width = self.rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
        for (key, value, origin) in &self.rows {
            writeln!(f, "  {key:key_width$}  {value:value_width$}  ({origin})")?;
        }
        for warning in &self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        Ok(())
    }
}

/// The Docker image's variables of the `mqtt:` section.
const MQTT_VARS: [&str; 4] = ["MQTT_BROKER", "MQTT_PORT", "MQTT_USERNAME", "MQTT_PASSWORD"];

/// Builds the report of `config`, resolved from `file` (as written; the
/// Docker image's defaults when `docker`) with the variables `env_set` set.
pub(super) fn build(
    file: &File,
    docker: bool,
    env_set: &[&'static str],
    config: &Config,
) -> Report {
    let mut rows = Rows {
        docker,
        env_set,
        rows: Vec::new(),
    };
    rows.top(file, config);
    let none = MqttFile::default();
    rows.mqtt(file.mqtt.as_ref().unwrap_or(&none), config);
    let none = HomeAssistantFile::default();
    rows.home_assistant(file.home_assistant.as_ref().unwrap_or(&none), config);
    let none = ServerFile::default();
    rows.server(file.server.as_ref().unwrap_or(&none), config);
    let none = PageFile::default();
    rows.page(file.page.as_ref().unwrap_or(&none), config);
    let warnings = warnings(file, &rows, config);
    Report {
        source: config.source.clone(),
        rows: rows.rows,
        warnings,
    }
}

struct Rows<'a> {
    docker: bool,
    env_set: &'a [&'static str],
    rows: Vec<(String, String, Origin)>,
}

impl Rows<'_> {
    /// The loader's precedence: the variable `var` when set, else the file
    /// when it has the key (`written`), else the default.
    fn origin(&self, var: Option<&'static str>, written: bool) -> Origin {
        match var {
            Some(var) if self.env_set.contains(&var) => Origin::Env(var),
            _ if !written => Origin::Default,
            _ if self.docker => Origin::DockerDefault,
            _ => Origin::File,
        }
    }

    fn add(&mut self, key: impl Into<String>, value: impl fmt::Display, written: bool) {
        self.add_var(key, value, None, written);
    }

    fn add_var(
        &mut self,
        key: impl Into<String>,
        value: impl fmt::Display,
        var: Option<&'static str>,
        written: bool,
    ) {
        let origin = self.origin(var, written);
        self.rows.push((key.into(), value.to_string(), origin));
    }

    fn top(&mut self, file: &File, config: &Config) {
        let port = config.bridge_port;
        self.add_var(
            "bridge_port",
            port,
            Some("BRIDGE_PORT"),
            file.bridge_port.is_some(),
        );
        let save = config.save_images;
        self.add_var(
            "save_images",
            save,
            Some("SAVE_IMAGES"),
            file.save_images.is_some(),
        );
        // Only what is in effect: with images off, the warnings name what is ignored.
        if config.save_images {
            let dir = config.image_dir.display();
            self.add("image_dir", dir, file.image_dir.is_some());
            let days = file.image_retention_days;
            self.add(
                "image_retention_days",
                number_or(days, "off"),
                days.is_some(),
            );
            let mb = file.image_max_mb;
            self.add("image_max_mb", number_or(mb, "off"), mb.is_some());
        }
        let dedup = file.dedup_seconds;
        let value = number_or(dedup.filter(|s| *s != 0.0), "off");
        self.add("dedup_seconds", value, dedup.is_some());
        // Only used by the connectivity entities.
        if config
            .mqtt
            .as_ref()
            .is_some_and(|m| m.camera_timeout.is_some())
        {
            let dir = config.state_dir.display();
            self.add("state_dir", dir, file.state_dir.is_some());
        }
    }

    fn mqtt(&mut self, f: &MqttFile, config: &Config) {
        self.add("mqtt.enabled", config.mqtt.is_some(), f.enabled.is_some());
        let Some(m) = &config.mqtt else { return };
        self.add_var(
            "mqtt.broker",
            text(&m.broker),
            Some("MQTT_BROKER"),
            f.broker.is_some(),
        );
        self.add_var("mqtt.port", m.port, Some("MQTT_PORT"), f.port.is_some());
        let user = if m.username.is_empty() {
            "(none: anonymous)"
        } else {
            &m.username
        };
        self.add_var(
            "mqtt.username",
            user,
            Some("MQTT_USERNAME"),
            f.username.is_some(),
        );
        let password = masked(&m.password);
        self.add_var(
            "mqtt.password",
            password,
            Some("MQTT_PASSWORD"),
            f.password.is_some(),
        );
        let written = f.discovery_prefix.is_some();
        self.add("mqtt.discovery_prefix", &m.discovery_prefix, written);
        self.add(
            "mqtt.topic_prefix",
            &m.topic_prefix,
            f.topic_prefix.is_some(),
        );
        self.add(
            "mqtt.expire_after",
            m.expire_after,
            f.expire_after.is_some(),
        );
        self.add("mqtt.client_id", &m.client_id, f.client_id.is_some());
        let written = f.queue_capacity.is_some();
        self.add("mqtt.queue_capacity", m.queue_capacity, written);
        let mb = f.queue_max_mb;
        self.add("mqtt.queue_max_mb", number_or(mb, "64"), mb.is_some());
        let delay = f.first_state_delay;
        self.add(
            "mqtt.first_state_delay",
            number_or(delay, "1"),
            delay.is_some(),
        );
        let written = f.event_entities.is_some();
        self.add("mqtt.event_entities", m.event_entities, written);
        let timeout = match (m.camera_timeout, f.camera_timeout) {
            (None, _) => "0 (off: no connectivity entities)".to_owned(),
            (Some(_), written) => number_or(written, "90"),
        };
        let written = f.camera_timeout.is_some();
        self.add("mqtt.camera_timeout", timeout, written);
        match &m.tls {
            None => self.add("mqtt.tls", "off (plain MQTT)", false),
            Some(tls) => {
                self.add("mqtt.tls.ca_file", tls.ca_file.display(), true);
                if let Some((cert, key)) = &tls.client {
                    self.add("mqtt.tls.cert_file", cert.display(), true);
                    self.add("mqtt.tls.key_file", key.display(), true);
                }
            }
        }
    }

    fn home_assistant(&mut self, f: &HomeAssistantFile, config: &Config) {
        let url = match (&config.webhooks, &f.url) {
            (Some(w), _) => w.url.clone(),
            (None, Some(url)) if !url.trim().is_empty() => url.clone(),
            _ => "(none)".to_owned(),
        };
        self.add("home_assistant.url", url, f.url.is_some());
        let Some(w) = &config.webhooks else {
            self.add("home_assistant.webhooks", "(none)", f.webhooks.is_some());
            return;
        };
        for (category, id) in &w.ids {
            self.add(
                format!("home_assistant.webhooks.{category}"),
                webhook_id_hint(id),
                true,
            );
        }
        let timeout = f.webhook_timeout;
        let value = number_or(timeout, "5");
        self.add("home_assistant.webhook_timeout", value, timeout.is_some());
        let written = f.webhook_retries.is_some();
        self.add("home_assistant.webhook_retries", w.retries, written);
        self.add(
            "home_assistant.webhook_queue",
            w.queue,
            f.webhook_queue.is_some(),
        );
    }

    fn server(&mut self, f: &ServerFile, config: &Config) {
        let s = &config.server;
        let library = "library default";
        self.add("server.bind", s.bind, f.bind.is_some());
        let workers = s.workers.map_or(library.to_owned(), |n| n.to_string());
        self.add("server.workers", workers, f.workers.is_some());
        let max_body = s.max_body.map_or(library.to_owned(), |n| n.to_string());
        self.add("server.max_body", max_body, f.max_body.is_some());
        let timeout = f.read_timeout;
        self.add(
            "server.read_timeout",
            number_or(timeout, library),
            timeout.is_some(),
        );
        let timeout = f.body_timeout;
        self.add(
            "server.body_timeout",
            number_or(timeout, library),
            timeout.is_some(),
        );
        let per_address = s
            .max_per_address
            .map_or(library.to_owned(), |n| n.to_string());
        self.add(
            "server.max_per_address",
            per_address,
            f.max_per_address.is_some(),
        );
        let max_workers = s.max_workers.map_or(library.to_owned(), |n| n.to_string());
        self.add("server.max_workers", max_workers, f.max_workers.is_some());
        let allow = list(&s.allow, "anyone");
        self.add("server.allow", allow, f.allow.is_some());
        let proxies = list(&s.trusted_proxies, "nobody");
        self.add(
            "server.trusted_proxies",
            proxies,
            f.trusted_proxies.is_some(),
        );
        self.add("server.paths", list(&s.paths, "any"), f.paths.is_some());
        match &s.basic_auth {
            Some((user, password)) => {
                self.add("server.basic_auth.username", text(user), true);
                self.add("server.basic_auth.password", masked(password), true);
            }
            None => self.add("server.basic_auth", "(none)", false),
        }
    }
}

impl Rows<'_> {
    fn page(&mut self, f: &PageFile, config: &Config) {
        self.add("page.enabled", config.page.is_some(), f.enabled.is_some());
        let Some(p) = &config.page else { return };
        let quiet = number_or(f.quiet_after, "90");
        self.add("page.quiet_after", quiet, f.quiet_after.is_some());
        self.add("page.pictures", p.pictures, f.pictures.is_some());
    }
}

/// Combinations the loader accepts that would not do what the user wants.
fn warnings(file: &File, rows: &Rows, config: &Config) -> Vec<String> {
    let mut warnings = Vec::new();
    let none = MqttFile::default();
    let m = file.mqtt.as_ref().unwrap_or(&none);

    if config.mqtt.is_none() && config.webhooks.is_none() {
        warnings.push(
            "mqtt.enabled is false and home_assistant.webhooks has no id: \
             events are received but nothing is published"
                .to_owned(),
        );
    }

    // The vendor's default is MQTT off, so `mqtt: {broker: ...}` without
    // `enabled: true` is quietly no MQTT at all. Settings written next to an
    // explicit `enabled: false` are a choice; variables are never ignored
    // on purpose.
    if config.mqtt.is_none() {
        let mut ignored: Vec<String> = Vec::new();
        if m.enabled.is_none() {
            ignored.extend(
                [
                    ("mqtt.broker", m.broker.is_some()),
                    ("mqtt.port", m.port.is_some()),
                    ("mqtt.username", m.username.is_some()),
                    ("mqtt.password", m.password.is_some()),
                    ("mqtt.discovery_prefix", m.discovery_prefix.is_some()),
                    ("mqtt.topic_prefix", m.topic_prefix.is_some()),
                    ("mqtt.expire_after", m.expire_after.is_some()),
                    ("mqtt.client_id", m.client_id.is_some()),
                    ("mqtt.queue_capacity", m.queue_capacity.is_some()),
                    ("mqtt.queue_max_mb", m.queue_max_mb.is_some()),
                    ("mqtt.first_state_delay", m.first_state_delay.is_some()),
                    ("mqtt.event_entities", m.event_entities.is_some()),
                    ("mqtt.camera_timeout", m.camera_timeout.is_some()),
                    ("mqtt.tls", m.tls.is_some()),
                ]
                .into_iter()
                .filter(|(_, set)| *set)
                .map(|(key, _)| key.to_owned()),
            );
        }
        let vars = MQTT_VARS.iter().filter(|v| rows.env_set.contains(v));
        ignored.extend(vars.map(|v| format!("env {v}")));
        if !ignored.is_empty() {
            let why = match m.enabled {
                Some(_) => "mqtt.enabled is false",
                None => "mqtt.enabled is not set (the default is false)",
            };
            warnings.push(format!(
                "{why}, so {} ignored: set `enabled: true` under `mqtt:` to publish to the broker",
                are(&ignored)
            ));
        }
    }

    // The client sends credentials only with a user name (mqtt/mod.rs).
    if let Some(m) = &config.mqtt {
        if m.username.is_empty() && !m.password.is_empty() {
            warnings.push(
                "mqtt.password is set but mqtt.username is empty: the bridge connects \
                 anonymously and never sends the password"
                    .to_owned(),
            );
        }
    }

    // The library's pages sit behind `allow` only: credentials are checked
    // for posts (see page/mod.rs).
    if config.page.is_some() && config.server.allow.is_empty() {
        let port = config.bridge_port;
        let auth = if config.server.basic_auth.is_some() {
            " (server.basic_auth protects the cameras' posts, not the page)"
        } else {
            ""
        };
        warnings.push(format!(
            "page.enabled with an empty server.allow: anyone who reaches port {port} sees \
             the cameras' plates and pictures{auth}; list the cameras' and your networks \
             under server.allow"
        ));
    }

    if !config.save_images {
        let ignored: Vec<String> = [
            ("image_dir", file.image_dir.is_some()),
            ("image_retention_days", file.image_retention_days.is_some()),
            ("image_max_mb", file.image_max_mb.is_some()),
        ]
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(key, _)| key.to_owned())
        .collect();
        if !ignored.is_empty() {
            let origin = rows.origin(Some("SAVE_IMAGES"), file.save_images.is_some());
            warnings.push(format!(
                "save_images is false ({origin}), so {} ignored: no image is saved",
                are(&ignored)
            ));
        }
    }
    warnings
}

/// `a is` / `a, b are`.
fn are(keys: &[String]) -> String {
    match keys {
        [one] => format!("{one} is"),
        many => format!("{} are", many.join(", ")),
    }
}

/// A number as the file writes it (`30`, `0.5`), or `otherwise`.
fn number_or(value: Option<f64>, otherwise: &str) -> String {
    value.map_or(otherwise.to_owned(), |v| v.to_string())
}

fn text(value: &str) -> &str {
    if value.is_empty() {
        "(empty)"
    } else {
        value
    }
}

/// Whether a password is set; never its text or length.
fn masked(secret: &Secret) -> &'static str {
    if secret.is_empty() {
        "(none)"
    } else {
        "******** (set)"
    }
}

fn list<T: fmt::Display>(items: &[T], empty: &str) -> String {
    if items.is_empty() {
        return empty.to_owned();
    }
    let items: Vec<String> = items.iter().map(T::to_string).collect();
    items.join(", ")
}
