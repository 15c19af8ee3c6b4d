//! `viewtron-bridge`: Viewtron camera and NVR events into Home Assistant
//! (MQTT discovery, state topics, images) and Home Assistant webhooks.
//!
//! A drop-in for the vendor's Python bridge: the same `config.yaml`, the same
//! Docker environment variables, the same topics, payloads and entities. See
//! `bridge/README.md` for everything it adds.
//!
//! Exit status: 0 after a clean stop, 1 when the port cannot be bound, 2 on a
//! usage or configuration error (one line on standard error). `--health`
//! exits 0 when the running bridge answers `/healthz` with 200, 1 otherwise.

#![forbid(unsafe_code)]

mod bridge;
mod config;
mod dedup;
mod discovery;
mod events;
mod health;
mod images;
mod metrics;
mod mqtt;
mod page;
mod payload;
mod presence;
mod tls;
mod webhook;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use viewtron::Page;

use crate::bridge::Bridge;

/// Viewtron cameras and NVRs into Home Assistant and MQTT.
///
/// Reads the vendor bridge's config.yaml (same keys and defaults); the
/// variables BRIDGE_PORT, MQTT_BROKER, MQTT_PORT, MQTT_USERNAME,
/// MQTT_PASSWORD and SAVE_IMAGES override it, as in the vendor's Docker
/// image. Without --config, ./config.yaml is read; when it does not exist
/// but one of those variables is set, the Docker image's defaults apply.
/// GET /metrics (Prometheus) and GET /healthz are served on the bridge port.
/// SIGTERM or Ctrl+C: stop accepting posts, deliver what is queued (a few
/// seconds at most), publish `offline`, exit 0.
#[derive(Debug, Parser)]
#[command(name = "viewtron-bridge", version, max_term_width = 100)]
struct Cli {
    /// Configuration file (YAML), e.g. the vendor bridge's config.yaml.
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Check the configuration and exit: print every setting under its
    /// config.yaml key with its value (passwords hidden) and where it comes
    /// from (file, variable or default), then warnings about settings that
    /// would not do what they seem to. Exit 0 when valid, 2 when not.
    #[arg(long)]
    check: bool,

    /// Ask the running bridge's GET /healthz (the port and address from the
    /// same configuration and variables as a normal start) and exit: 0 on
    /// 200, 1 otherwise with one line on standard error. For container
    /// health checks: no shell or curl needed.
    #[arg(long, conflicts_with = "check")]
    health: bool,

    /// Run as the Home Assistant app: read the options the Supervisor wrote
    /// (default /data/options.json; also used without this flag when that
    /// file exists and ./config.yaml does not) and ask the Supervisor for
    /// the MQTT broker when they leave it empty or `auto`.
    #[arg(long, value_name = "OPTIONS", num_args = 0..=1,
          default_missing_value = config::APP_OPTIONS, conflicts_with = "config")]
    app: Option<PathBuf>,

    /// Log more (debug level, the library's log included); RUST_LOG overrides.
    #[arg(long, short)]
    verbose: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let source = match (cli.config, cli.app) {
        (Some(path), _) => config::Source::File(path),
        (None, Some(options)) => config::Source::App(options),
        (None, None) => config::Source::Default,
    };
    let env = |name: &str| std::env::var(name).ok();
    if cli.health {
        return health::run(&source, env);
    }
    if cli.check {
        return match config::check(&source, env) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => config_error(&e),
        };
    }
    match config::load(&source, env) {
        Ok(config) => run(config),
        Err(e) => config_error(&e),
    }
}

/// One line on standard error, exit status 2.
fn config_error(e: &config::ConfigError) -> ExitCode {
    eprintln!("viewtron-bridge: configuration error: {e}");
    ExitCode::from(2)
}

fn init_logging(verbose: bool) {
    let default = if verbose { "debug" } else { "info" };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default))
        .format_target(verbose)
        .init();
}

/// Starts the outputs, then the server; returns when a signal stops it.
fn run(config: config::Config) -> ExitCode {
    let bridge = match start_outputs(&config) {
        Ok(bridge) => Arc::new(bridge),
        Err(e) => {
            eprintln!("viewtron-bridge: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (on_event, metrics, health) = (bridge.clone(), bridge.clone(), bridge.clone());
    let built = page::serve(server_builder(&config), bridge.page.clone())
        .on_event(move |event, ip| on_event.on_event(&event, ip))
        .on_connect(|ip| log::info!("Camera connected: {ip}"))
        .page("/metrics", move |stats| {
            Page::metrics(metrics::render(stats, &metrics))
        })
        .page("/healthz", move |_| match health.healthy() {
            Ok(()) => Page::text("ok"),
            Err(why) => Page::text(why).with_status(503),
        })
        .build();
    let server = match built {
        Ok(server) => server,
        Err(e) => {
            eprintln!("viewtron-bridge: {e}");
            stop_outputs(&bridge);
            return ExitCode::FAILURE;
        }
    };
    banner(&config, &server);
    let handle = server.shutdown_handle();
    match signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ]) {
        Ok(mut signals) => {
            let spawned = std::thread::Builder::new()
                .name("signals".into())
                .spawn(move || {
                    if let Some(signal) = signals.forever().next() {
                        log::info!("signal {signal}: stopping");
                        handle.shutdown();
                    }
                });
            if let Err(e) = spawned {
                log::warn!("cannot watch for signals: {e}");
            }
        }
        Err(e) => log::warn!("cannot watch for signals: {e}"),
    }
    bridge.wait(&server);
    drop(server);
    stop_outputs(&bridge);
    log::info!("stopped");
    ExitCode::SUCCESS
}

fn start_outputs(config: &config::Config) -> std::io::Result<Bridge> {
    let (mqtt, naming) = match &config.mqtt {
        Some(m) => {
            let availability_topic = m.availability_topic();
            let naming = discovery::Naming {
                discovery_prefix: m.discovery_prefix.clone(),
                topic_prefix: m.topic_prefix.clone(),
                expire_after: m.expire_after,
                availability_topic: availability_topic.clone(),
            };
            (
                Some(mqtt::Mqtt::start(m, availability_topic)?),
                Some(naming),
            )
        }
        None => (None, None),
    };
    let webhooks = config
        .webhooks
        .clone()
        .map(webhook::Webhooks::start)
        .transpose()?;
    let images = if config.save_images {
        let limits = images::Limits {
            max_age: config.image_retention,
            max_bytes: config.image_max_bytes,
        };
        let images = images::Images::start(config.image_dir.clone(), limits).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot create {}: {e}", config.image_dir.display()),
            )
        })?;
        Some(images)
    } else {
        None
    };
    Ok(Bridge {
        mqtt,
        naming,
        webhooks,
        images,
        dedup: config.dedup.map(dedup::Dedup::new),
        counters: bridge::Counters::default(),
        ours: bridge::Additions::new(config),
        page: config.page.map(|p| {
            Arc::new(page::Board::new(page::Settings {
                quiet_after: p.quiet_after,
                pictures: p.pictures,
            }))
        }),
    })
}

fn stop_outputs(bridge: &Bridge) {
    if let Some(w) = &bridge.webhooks {
        w.shutdown(Duration::from_secs(3));
    }
    if let Some(m) = &bridge.mqtt {
        m.shutdown(Duration::from_secs(5));
    }
    if let Some(i) = &bridge.images {
        i.shutdown();
    }
}

/// What runs, like the vendor's start-up summary.
fn banner(config: &config::Config, server: &viewtron::Server) {
    log::info!(
        "Viewtron -> Home Assistant bridge {}",
        env!("CARGO_PKG_VERSION")
    );
    log::info!("configuration:     {}", config.source);
    log::info!("cameras post to:   {}", server.url());
    match &config.mqtt {
        Some(m) => {
            log::info!(
                "MQTT broker:       {}:{} (client id {})",
                m.broker,
                m.port,
                m.client_id
            );
            log::info!("MQTT discovery:    {}/", m.discovery_prefix);
            log::info!("MQTT topics:       {}/", m.topic_prefix);
            log::info!("availability:      {}", m.availability_topic());
            log::info!("sensor expiry:     {}s", m.expire_after);
        }
        None => log::info!("MQTT:              disabled"),
    }
    match &config.webhooks {
        Some(w) => {
            for (category, id) in &w.ids {
                log::info!(
                    "webhook {category:10} -> {}/api/webhook/{}",
                    w.url,
                    config::webhook_id_hint(id)
                );
            }
        }
        None => log::info!("webhooks:          disabled"),
    }
    if config.save_images {
        log::info!("save images:       {}", config.image_dir.display());
    } else {
        log::info!("save images:       no");
    }
    log::info!(
        "metrics:           {}metrics, health: {}healthz",
        server.url().trim_end_matches('/').to_owned() + "/",
        server.url().trim_end_matches('/').to_owned() + "/"
    );
    if let Some(p) = &config.page {
        let quiet = p.quiet_after.as_secs_f64();
        log::info!("installer page:    {} (quiet after {quiet}s)", server.url());
        if config.server.allow.is_empty() {
            log::warn!("the installer page shows plates and pictures to anyone who reaches this port: list who may under server.allow");
        }
    }
}
/// The library server with the `server:` settings applied.
fn server_builder(config: &config::Config) -> viewtron::ServerBuilder {
    let s = &config.server;
    let mut b = viewtron::Server::builder()
        .bind(s.bind)
        .port(config.bridge_port);
    if let Some(n) = s.workers {
        b = b.workers(n);
    }
    if let Some(n) = s.max_body {
        b = b.max_body(n);
    }
    if let Some(t) = s.read_timeout {
        b = b.read_timeout(t);
    }
    if let Some(t) = s.body_timeout {
        b = b.body_timeout(t);
    }
    if let Some(n) = s.max_per_address {
        b = b.max_per_address(n);
    }
    if let Some(n) = s.max_workers {
        b = b.max_workers(n);
    }
    for network in &s.allow {
        b = b.allow(*network);
    }
    if !s.trusted_proxies.is_empty() {
        b = b.trusted_proxies(s.trusted_proxies.iter().copied());
    }
    for path in &s.paths {
        b = b.path(path.clone());
    }
    if let Some((user, password)) = &s.basic_auth {
        b = b.basic_auth(user.clone(), password.expose());
    }
    b
}
