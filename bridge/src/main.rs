//! `viewtron-bridge`: Viewtron camera and NVR events into Home Assistant
//! (MQTT discovery, state topics, images) and Home Assistant webhooks.
//!
//! A drop-in for the vendor's Python bridge: the same `config.yaml`, the same
//! Docker environment variables, the same topics, payloads and entities. See
//! `bridge/README.md` for everything it adds.
//!
//! Exit status: 0 after a clean stop, 1 when the port cannot be bound, 2 on a
//! usage or configuration error (one line on standard error).

#![forbid(unsafe_code)]

#[allow(dead_code)] // the skeleton reads only part of it yet
mod config;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Viewtron cameras and NVRs into Home Assistant and MQTT.
///
/// Reads the vendor bridge's config.yaml (same keys and defaults); the
/// variables BRIDGE_PORT, MQTT_BROKER, MQTT_PORT, MQTT_USERNAME,
/// MQTT_PASSWORD and SAVE_IMAGES override it, as in the vendor's Docker
/// image. Without --config, ./config.yaml is read; when it does not exist
/// but one of those variables is set, the Docker image's defaults apply.
#[derive(Debug, Parser)]
#[command(name = "viewtron-bridge", version, max_term_width = 100)]
struct Cli {
    /// Configuration file (YAML), e.g. the vendor bridge's config.yaml.
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Check the configuration, print what it resolves to, and exit.
    #[arg(long)]
    check: bool,

    /// Log more (debug level, the library's log included); RUST_LOG overrides.
    #[arg(long, short)]
    verbose: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let source = match cli.config {
        Some(path) => config::Source::File(path),
        None => config::Source::Default,
    };
    let config = match config::load(&source, |name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("viewtron-bridge: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.check {
        println!("configuration OK ({})", config.source);
        println!("{config:#?}");
        return ExitCode::SUCCESS;
    }
    run(config)
}

fn init_logging(verbose: bool) {
    let default = if verbose { "debug" } else { "info" };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default))
        .format_target(verbose)
        .init();
}

fn run(config: config::Config) -> ExitCode {
    let builder = server_builder(&config)
        .on_event(|event, ip| log::info!("{} from {ip}", event.description()));
    let server = match builder.build() {
        Ok(server) => server,
        Err(e) => {
            eprintln!("viewtron-bridge: {e}");
            return ExitCode::from(1);
        }
    };
    log::info!("listening on {}", server.url());
    server.wait();
    ExitCode::SUCCESS
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
    for network in &s.allow {
        b = b.allow(*network);
    }
    for path in &s.paths {
        b = b.path(path.clone());
    }
    if let Some((user, password)) = &s.basic_auth {
        b = b.basic_auth(user.clone(), password.expose());
    }
    b
}
