//! What the benchmark rigs (`sink`, `ceiling`) share: their command line,
//! `PORT SECONDS` plus flags of their own, and the peak resident set they
//! report. `bench/run.sh` starts both the same way and reads both the same
//! way, so the rigs must agree to the byte on what they accept and print;
//! one copy of each keeps them agreeing.

#![forbid(unsafe_code)]

use std::time::Duration;

/// Reads a rig's command line, `PORT SECONDS` and the rig's own flags.
///
/// `-h` and `--help` give `Ok(None)`. Every other argument that starts with
/// `-` (a lone `-` excepted) goes to `flag`, with the arguments after it so
/// that it can take a value; `flag` answers `Ok(false)` for a flag it does
/// not know, which is an error. What remains must be exactly `PORT`, a port
/// number (0 picks a free port), and `SECONDS`, a duration in seconds
/// (decimals allowed). Errors are one line, for the rig to print with its
/// usage.
///
/// ```
/// use std::time::Duration;
///
/// let args = ["5050", "--verbose", "1.5"].map(String::from);
/// let mut verbose = false;
/// let parsed = viewtron_bench_rigs::parse_args(args, |flag, _rest| {
///     verbose |= flag == "--verbose";
///     Ok(flag == "--verbose")
/// });
/// assert_eq!(parsed, Ok(Some((5050, Duration::from_millis(1500)))));
/// assert!(verbose);
///
/// let no_flags = |_: &str, _: &mut dyn Iterator<Item = String>| Ok(false);
/// let help = viewtron_bench_rigs::parse_args(["--help".to_string()], no_flags);
/// assert_eq!(help, Ok(None));
/// let bad = viewtron_bench_rigs::parse_args(["5050".to_string()], no_flags);
/// assert_eq!(bad, Err("expected PORT and SECONDS, got 1 argument(s)".to_string()));
/// ```
pub fn parse_args<F>(
    args: impl IntoIterator<Item = String>,
    mut flag: F,
) -> Result<Option<(u16, Duration)>, String>
where
    F: FnMut(&str, &mut dyn Iterator<Item = String>) -> Result<bool, String>,
{
    let mut args = args.into_iter();
    let mut positional = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            name if name.starts_with('-') && name.len() > 1 => {
                if !flag(name, &mut args)? {
                    return Err(format!("unknown flag `{name}`"));
                }
            }
            _ => positional.push(arg),
        }
    }
    let [port, seconds] = positional.as_slice() else {
        return Err(format!(
            "expected PORT and SECONDS, got {} argument(s)",
            positional.len()
        ));
    };
    let port = port
        .parse()
        .map_err(|e| format!("PORT: invalid value `{port}`: {e}"))?;
    let run_for = seconds
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("SECONDS: invalid value `{seconds}`"))?;
    Ok(Some((port, run_for)))
}

/// What a rig does with [`parse_args`]' outcome: `Ok` with its arguments
/// to run, or `Err` with the exit code after printing `usage` (to standard
/// output for `--help`, status 0; to standard error after the message for
/// a bad command line, status 2).
///
/// ```
/// use std::process::ExitCode;
///
/// let usage = "usage: rig PORT SECONDS";
/// assert_eq!(viewtron_bench_rigs::args_or_exit("rig", usage, Ok(Some(7))), Ok(7));
/// assert_eq!(viewtron_bench_rigs::args_or_exit::<u8>("rig", usage, Ok(None)), Err(ExitCode::SUCCESS));
/// let bad = viewtron_bench_rigs::args_or_exit::<u8>("rig", usage, Err("no PORT".into()));
/// assert_eq!(bad, Err(ExitCode::from(2)));
/// ```
pub fn args_or_exit<T>(
    rig: &str,
    usage: &str,
    parsed: Result<Option<T>, String>,
) -> Result<T, std::process::ExitCode> {
    match parsed {
        Ok(Some(args)) => Ok(args),
        Ok(None) => {
            println!("{usage}");
            Err(std::process::ExitCode::SUCCESS)
        }
        Err(message) => {
            eprintln!("{rig}: {message}\n{usage}");
            Err(std::process::ExitCode::from(2))
        }
    }
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
