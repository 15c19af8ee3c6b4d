//! Listens for camera and NVR posts and prints one line per event: the
//! project's main job, ready to run.
//!
//! ```text
//! cargo run --release --example listen                      # port 5050, all interfaces
//! cargo run --release --example listen -- --port 5002 --bind 192.168.1.10
//! cargo run --release --example listen -- --json > events.jsonl
//! cargo run --release --example listen -- --help
//! ```
//!
//! Point the cameras' "HTTP Post" at this machine and port (the banner shows
//! the URL), then reboot them. Each event becomes one line, like the Python
//! SDK's `handle_event`:
//!
//! ```text
//! Viewtron Event Server
//! Listening on http://192.168.1.100:5050
//! Ready for camera events...
//! Camera connected: 192.168.1.20
//! [lpr] License Plate Detection from 192.168.1.20  plate=ABC123 group=whiteList
//! [intrusion] Perimeter Intrusion from 192.168.1.30  targets=1
//! [traject] Smart Tracking from 192.168.1.20  targets=2
//! [alarm] perimeterAlarm#1 on from 192.168.1.30
//! [unrecognized] unknown-smartType (MOTION: Motion Detection) from 192.168.1.20
//! ```
//!
//! Keepalives print nothing. Posts that are not XML are reported on standard
//! error, and so are the library's warnings (`--verbose`: its debug log too).
//!
//! With `--json`, standard output carries only JSON, one object per line: each
//! event, alarm status and unrecognized post in the crate's JSON shape (see
//! the crate docs, section "JSON output") with a `"camera_ip"` key added at the end; one
//! `{"kind":"connect","camera_ip":"…"}` line per new camera; and for a post
//! that is not XML, `{"kind":"error","error":"…","camera_ip":"…"}`. The banner
//! then goes to standard error. `--quiet` prints no per-post lines at all,
//! only the banner and errors.
//!
//! With `--metrics`, `GET /metrics` on the same port answers the server's
//! counters in the Prometheus text format (`ServerBuilder::page` with
//! `Stats::prometheus`): point a Prometheus scrape job at it.
//!
//! Exit status: runs until interrupted (Ctrl+C); 0 when standard output is
//! closed (`listen --json | head`), 1 when the port cannot be bound or output
//! fails, 2 on a usage error.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use clap::error::{ContextKind, ContextValue};
use clap::Parser;
use viewtron::{
    AlarmStatus, Category, Event, Page, Server, ServerBuilder, ShutdownHandle, UnparsedReason,
};

// The command line; `--help` lists it, after a `usage: listen` line. Flags
// left out keep the library's defaults, given in brackets. (No `Debug`: it
// holds the password.)
#[derive(Parser)]
#[command(help_template = "usage: {usage}\n\n{all-args}")]
struct Options {
    /// TCP port to listen on
    #[arg(long, value_name = "N", default_value_t = 5050)]
    port: u16,
    /// address to listen on [default: every interface, IPv4 and IPv6]
    #[arg(long, value_name = "ADDR")]
    bind: Option<IpAddr>,
    /// largest post accepted; larger: 413 [default: 16777216]
    #[arg(long, value_name = "BYTES")]
    max_body: Option<usize>,
    /// close a connection silent this long [default: 150]
    #[arg(long, value_name = "SECS")]
    read_timeout: Option<u64>,
    /// answer 408 to a body not complete this long after its head
    /// [default: 30]
    #[arg(long, value_name = "SECS")]
    body_timeout: Option<u64>,
    /// requests in progress per camera address; more: 429 [default: 8]
    #[arg(long, value_name = "N")]
    max_per_address: Option<usize>,
    /// the most worker threads, spares for slow bodies included
    /// [default: 128]
    #[arg(long, value_name = "N")]
    max_workers: Option<usize>,
    /// require HTTP Basic credentials (as set on the camera); else 401
    #[arg(long, value_name = "NAME", requires = "secret")]
    user: Option<String>,
    /// the password for --user (a password may start with `-`)
    #[arg(long, value_name = "PASS", group = "secret", requires = "user")]
    #[arg(allow_hyphen_values = true)]
    password: Option<String>,
    /// the password from the first line of a file, instead of --password
    /// (which other local users can see with `ps`)
    #[arg(long, value_name = "PATH", group = "secret", requires = "user")]
    #[arg(value_parser = read_password)]
    password_file: Option<String>,
    /// accept posts only from this network (repeatable); others: 403
    #[arg(long, value_name = "CIDR")]
    allow: Vec<viewtron::Cidr>,
    /// believe X-Forwarded-For from this proxy's network (repeatable):
    /// behind it, each camera is known by its own address
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    trusted_proxies: Vec<viewtron::Cidr>,
    /// answer GET /metrics with the server's counters (Prometheus text)
    #[arg(long)]
    metrics: bool,
    /// standard output carries only JSON lines (events, alarm statuses,
    /// unrecognized posts, new cameras), each with "camera_ip"; the banner
    /// goes to standard error
    #[arg(long)]
    json: bool,
    /// no per-post lines: only the banner and errors
    #[arg(short, long)]
    quiet: bool,
    /// also show the library's debug log on standard error
    #[arg(short, long)]
    verbose: bool,
}

/// The first line of `path`, without its line end. The error never shows
/// the file's contents.
fn read_password(path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
    match text.lines().next() {
        Some(line) if !line.is_empty() => Ok(line.to_owned()),
        _ => Err("its first line is empty".into()),
    }
}

fn main() -> ExitCode {
    let options = Options::try_parse().unwrap_or_else(|mut e| {
        // `Options::parse()`, except that every usage error ends with the
        // same lower-case `usage: listen` line, as it always has (tests look
        // for it; clap writes `Usage:`, and not for every error).
        let usage = ContextValue::StyledStr("usage: listen [OPTIONS]".into());
        e.insert(ContextKind::Usage, usage);
        e.exit()
    });
    // The library reports through the `log` crate (a callback that panicked,
    // a refused request, a listener failure): show that on standard error.
    env_logger::Builder::new()
        .parse_filters(if options.verbose { "debug" } else { "warn" })
        .format(|out, record| {
            let (level, target) = (record.level(), record.target());
            writeln!(out, "listen: {level} {target}: {}", record.args())
        })
        .init();

    let out = Arc::new(Output {
        json: options.json,
        quiet: options.quiet,
        stop: OnceLock::new(),
        failed: AtomicBool::new(false),
        broken_pipe: AtomicBool::new(false),
    });
    let server = match configure(&options, &out).build() {
        Ok(server) => server,
        Err(e) => {
            eprintln!("listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The callbacks stop the server when standard output goes away; they can
    // only reach it through this cell, filled once the server exists.
    let _ = out.stop.set(server.shutdown_handle());

    if options.json {
        // Keep standard output pure JSON: the same banner, on standard error.
        eprintln!("Viewtron Event Server");
        eprintln!("Listening on {}", server.url());
        eprintln!("Ready for camera events...");
        server.wait();
    } else {
        server.serve_forever();
    }

    if out.broken_pipe.load(Ordering::SeqCst) {
        ExitCode::SUCCESS
    } else if out.failed.load(Ordering::SeqCst) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The server the options describe, with the callbacks that print.
fn configure(options: &Options, out: &Arc<Output>) -> ServerBuilder {
    let mut builder = Server::builder().port(options.port);
    if let Some(ip) = options.bind {
        builder = builder.bind(ip);
    }
    if let Some(bytes) = options.max_body {
        builder = builder.max_body(bytes);
    }
    if let Some(secs) = options.read_timeout {
        builder = builder.read_timeout(std::time::Duration::from_secs(secs));
    }
    if let Some(secs) = options.body_timeout {
        builder = builder.body_timeout(std::time::Duration::from_secs(secs));
    }
    if let Some(requests) = options.max_per_address {
        builder = builder.max_per_address(requests);
    }
    if let Some(workers) = options.max_workers {
        builder = builder.max_workers(workers);
    }
    let password = options.password.as_ref().or(options.password_file.as_ref());
    if let (Some(user), Some(password)) = (&options.user, password) {
        builder = builder.basic_auth(user.as_str(), password.as_str());
    }
    if options.metrics {
        builder = builder.page("/metrics", |stats| Page::metrics(stats.prometheus()));
    }
    for network in &options.allow {
        builder = builder.allow(*network);
    }
    builder = builder.trusted_proxies(options.trusted_proxies.iter().copied());
    let (on_event, on_connect, on_alarm, on_unparsed) =
        (out.clone(), out.clone(), out.clone(), out.clone());
    builder
        .on_event(move |event, ip| on_event.event(&event, ip))
        .on_connect(move |ip| on_connect.connect(ip))
        .on_alarm_status(move |status, ip| on_alarm.alarm_status(&status, ip))
        .on_unparsed(move |xml, ip, reason| on_unparsed.unparsed(xml, ip, reason))
}

/// Prints what the callbacks report, in text or JSON. Callbacks run on the
/// server's worker threads; each line is written under the stdout lock, so
/// lines never interleave.
struct Output {
    json: bool,
    quiet: bool,
    stop: OnceLock<ShutdownHandle>,
    failed: AtomicBool,
    broken_pipe: AtomicBool,
}

impl Output {
    fn event(&self, event: &Event, ip: IpAddr) {
        if self.quiet {
            return;
        }
        if self.json {
            let json = serde_json::to_string(event).expect("an event always serialises");
            self.line(&with_camera_ip(json, ip));
        } else {
            self.line(&event_line(event, ip));
        }
    }

    fn connect(&self, ip: IpAddr) {
        if self.quiet {
            return;
        }
        if self.json {
            self.line(&format!(r#"{{"kind":"connect","camera_ip":"{ip}"}}"#));
        } else {
            self.line(&format!("Camera connected: {ip}"));
        }
    }

    fn alarm_status(&self, status: &AlarmStatus, ip: IpAddr) {
        if self.quiet {
            return;
        }
        if self.json {
            let json = serde_json::to_string(status).expect("a status always serialises");
            self.line(&with_camera_ip(json, ip));
        } else {
            for alarm in &status.alarms {
                let id = alarm
                    .id
                    .as_deref()
                    .map_or(String::new(), |id| format!("#{id}"));
                let state = if alarm.active { "on" } else { "off" };
                self.line(&format!("[alarm] {}{id} {state} from {ip}", alarm.name));
            }
        }
    }

    fn unparsed(&self, _xml: &str, ip: IpAddr, reason: &UnparsedReason) {
        match reason {
            UnparsedReason::Unrecognized(unrecognized) => {
                if self.quiet {
                    return;
                }
                if self.json {
                    let json = serde_json::to_string(unrecognized).expect("always serialises");
                    self.line(&with_camera_ip(json, ip));
                } else {
                    let mut line = format!("[unrecognized] {reason}");
                    if let Some(smart_type) = &unrecognized.smart_type {
                        let _ = write!(line, " ({smart_type}");
                        if let Some(description) = unrecognized.description {
                            let _ = write!(line, ": {description}");
                        }
                        line.push(')');
                    }
                    let _ = write!(line, " from {ip}");
                    self.line(&line);
                }
            }
            // Not XML, not UTF-8, or an empty chunked post: an error.
            other => {
                if self.json && !self.quiet {
                    let error = serde_json::to_string(&other.to_string()).expect("a string");
                    self.line(&format!(
                        r#"{{"kind":"error","error":{error},"camera_ip":"{ip}"}}"#
                    ));
                } else {
                    eprintln!("listen: unusable post from {ip}: {other}");
                }
            }
        }
    }

    /// Writes one line; when standard output is gone, stops the server.
    fn line(&self, line: &str) {
        let mut stdout = io::stdout().lock();
        if let Err(e) = writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
            if e.kind() == io::ErrorKind::BrokenPipe {
                self.broken_pipe.store(true, Ordering::SeqCst);
            } else if !self.failed.swap(true, Ordering::SeqCst) {
                eprintln!("listen: cannot write to standard output: {e}");
            }
            if let Some(stop) = self.stop.get() {
                stop.shutdown();
            }
        }
    }
}

/// `[lpr] License Plate Detection from 192.168.1.20  plate=ABC123 group=whiteList`.
fn event_line(event: &Event, ip: IpAddr) -> String {
    let mut line = format!("[{}] {} from {ip}", event.category(), event.description());
    let _ = match event.category() {
        Category::Lpr => write!(
            line,
            "  plate={} group={}",
            field(event.plate_number()),
            field(event.plate_group())
        ),
        Category::Face => write!(line, "  faces={}", event.faces().len()),
        // Intrusion, counting, metadata, tracking, and categories added later.
        _ => write!(line, "  targets={}", event.targets().len()),
    };
    line
}

/// A value for `key=value`: `-` when absent, quoted when it has spaces.
fn field(value: Option<&str>) -> Cow<'_, str> {
    match value {
        None => Cow::Borrowed("-"),
        Some(v) if v.is_empty() || v.contains(|c: char| c.is_whitespace() || c == '"') => {
            Cow::Owned(format!("{v:?}"))
        }
        Some(v) => Cow::Borrowed(v),
    }
}

/// Adds `"camera_ip"` as the last key of a serialised post, keeping the
/// crate's key order (a `serde_json::Value` would sort the keys).
fn with_camera_ip(json: String, ip: IpAddr) -> String {
    let keys = json
        .strip_suffix('}')
        .expect("a post serialises to a JSON object");
    format!(r#"{keys},"camera_ip":"{ip}"}}"#)
}
