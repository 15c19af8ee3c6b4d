//! What the benchmark rigs (`sink`, `ceiling`) share: their command line,
//! `PORT SECONDS` plus flags of their own, and the peak resident set they
//! report. `bench/run.sh` starts both the same way and reads both the same
//! way, so the rigs must agree to the byte on what they accept and print;
//! one copy of each keeps them agreeing.

#![forbid(unsafe_code)]

use std::time::Duration;

use clap::error::{ContextKind, ContextValue};

/// `PORT SECONDS`, the start of both rigs' command lines, for a rig's
/// `clap::Parser` to flatten (`#[command(flatten)]`) before its own flags.
/// PORT is a port number (0 picks a free port); SECONDS a duration in
/// seconds (decimals allowed).
///
/// ```
/// use clap::Parser;
/// use std::time::Duration;
///
/// #[derive(Parser)]
/// struct Rig {
///     #[command(flatten)]
///     run: viewtron_bench_rigs::RunFor,
///     #[arg(long)]
///     verbose: bool,
/// }
///
/// let rig = Rig::try_parse_from(["rig", "5050", "--verbose", "1.5"]).unwrap();
/// assert_eq!(rig.run.port, 5050);
/// assert_eq!(rig.run.seconds, Duration::from_millis(1500));
/// assert!(rig.verbose);
/// assert!(Rig::try_parse_from(["rig", "5050"]).is_err());
/// assert!(Rig::try_parse_from(["rig", "5050", "x"]).is_err());
/// ```
#[derive(clap::Args)]
pub struct RunFor {
    /// port on 127.0.0.1 (0 picks a free port)
    pub port: u16,
    /// how long to serve, in seconds (decimals allowed)
    #[arg(value_parser = seconds)]
    pub seconds: Duration,
}

fn seconds(text: &str) -> Result<Duration, String> {
    let seconds = text.parse::<f64>().map_err(|e| e.to_string())?;
    Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())
}

/// The rigs' `--help`: a `usage: RIG [OPTIONS] <PORT> <SECONDS>` line, what
/// the rig does, then its arguments. For `#[command(help_template = …)]`.
///
/// ```
/// use clap::{CommandFactory, Parser};
///
/// /// Serves a while.
/// #[derive(Parser)]
/// #[command(name = "rig", help_template = viewtron_bench_rigs::HELP)]
/// struct Rig {
///     #[command(flatten)]
///     run: viewtron_bench_rigs::RunFor,
/// }
///
/// let help = Rig::command().render_help().to_string();
/// assert!(help.starts_with("usage: rig <PORT> <SECONDS>\n\nServes a while\n"), "{help}");
/// ```
pub const HELP: &str = "usage: {usage}\n\n{about}\n\n{all-args}";

/// `T::parse()` for a rig, except that every usage error ends with the
/// `usage: RIG …` line in lower case, as it always has (tests look for it;
/// clap writes `Usage:`, and not for every error): the message on standard
/// error and status 2, or `--help` on standard output and status 0.
pub fn parse<T: clap::Parser>() -> T {
    T::try_parse().unwrap_or_else(|mut e| {
        let usage = T::command().render_usage().to_string();
        let usage = usage.replacen("Usage:", "usage:", 1);
        e.insert(ContextKind::Usage, ContextValue::StyledStr(usage.into()));
        e.exit()
    })
}

/// This process's peak resident set size in KiB (`VmHWM` in
/// `/proc/self/status`), or 0 where `/proc` has none.
///
/// ```
/// let kib = viewtron_bench_rigs::peak_rss_kb();
/// if cfg!(target_os = "linux") {
///     assert!(kib > 0);
/// }
/// ```
pub fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}
