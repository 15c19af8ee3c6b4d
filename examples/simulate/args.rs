//! The command line: the options, the URL and the files, and the requests
//! built from them once, before the run, so that posting is a single write.

use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::num::NonZeroUsize;
use std::time::Duration;

use clap::Parser;

/// Posts the FILEs (camera XML bodies, round-robin) to URL and reports
/// throughput and latency.
#[derive(Parser)]
#[command(after_help = "Exit status: 0 without errors, 1 with any error, 2 on a usage error.")]
struct Cli {
    /// http://host[:port][/path]
    url: String,
    /// a post body; `-` reads standard input (once)
    #[arg(value_name = "FILE", required = true)]
    files: Vec<String>,
    /// concurrent connections
    #[arg(short, long, value_name = "N", default_value = "1")]
    connections: NonZeroUsize,
    /// stop after N posts [default: number of FILEs]
    #[arg(short = 'n', long, value_name = "N")]
    count: Option<u64>,
    /// stop after SECS seconds (with -n: whichever first)
    #[arg(short, long, value_name = "SECS", value_parser = seconds)]
    duration: Option<Duration>,
    /// total posts/s across all connections [default: flat out]
    #[arg(long, value_name = "R", value_parser = positive)]
    rate: Option<f64>,
    /// one connection per post, `Connection: close` [default: keep-alive]
    #[arg(long)]
    close: bool,
    /// send bodies with `Transfer-Encoding: chunked`
    #[arg(long)]
    chunked: bool,
    /// absolute-form target `POST http://host:port/path` (as NVRs send)
    #[arg(long)]
    absolute: bool,
    /// `Content-Type: application/soap+xml` (as NVRs send)
    #[arg(long)]
    soap: bool,
    /// an empty-body keepalive POST every SECS seconds on each connection
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    keepalive_every: Option<Duration>,
    /// one thread opens every connection and posts on it at once, back to
    /// back as fast as it can (then -n/-d posts are shared out as usual);
    /// reports the slowest first answer
    #[arg(long)]
    burst: bool,
    /// print only the final report
    #[arg(long)]
    quiet: bool,
    /// print the final report as one JSON line
    #[arg(long)]
    json: bool,
}

#[derive(Default)]
pub(crate) struct Config {
    pub(crate) addrs: Vec<SocketAddr>,
    /// `host[:port]` as written in the URL: the Host header.
    pub(crate) authority: String,
    pub(crate) path: String,
    /// The full request (head + body) per file, built once before the run.
    pub(crate) posts: Vec<Vec<u8>>,
    pub(crate) keepalive: Vec<u8>,
    pub(crate) connections: usize,
    /// `u64::MAX` when only the duration limits the run.
    pub(crate) count: u64,
    pub(crate) duration: Option<Duration>,
    pub(crate) rate: Option<f64>,
    pub(crate) keepalive_every: Option<Duration>,
    pub(crate) close: bool,
    pub(crate) burst: bool,
    pub(crate) chunked: bool,
    pub(crate) absolute: bool,
    pub(crate) soap: bool,
    pub(crate) quiet: bool,
    pub(crate) json: bool,
}

/// The run the command line asks for. clap answers `--help` and usage
/// errors itself (and exits); `Err` is a URL that does not resolve or a
/// FILE that cannot be read.
pub(crate) fn parse_args() -> Result<Config, String> {
    let cli = Cli::parse();
    let mut cfg = Config {
        connections: cli.connections.get(),
        duration: cli.duration,
        rate: cli.rate,
        keepalive_every: cli.keepalive_every,
        close: cli.close,
        burst: cli.burst,
        chunked: cli.chunked,
        absolute: cli.absolute,
        soap: cli.soap,
        quiet: cli.quiet,
        json: cli.json,
        ..Config::default()
    };
    parse_url(&mut cfg, &cli.url)?;
    let files = read_files(&cli.files)?;
    cfg.count = match (cli.count, cfg.duration) {
        (Some(n), _) => n,
        (None, Some(_)) => u64::MAX,
        (None, None) if cfg.burst => cfg.connections as u64, // one post each
        (None, None) => files.len() as u64,
    };
    cfg.posts = files.iter().map(|body| build_request(&cfg, body)).collect();
    cfg.keepalive = build_request(&cfg, &[]);
    Ok(cfg)
}

/// A positive number (below 10⁹).
fn positive(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(x) if x > 0.0 && x < 1e9 => Ok(x),
        _ => Err("not a positive number".into()),
    }
}

fn seconds(v: &str) -> Result<Duration, String> {
    positive(v).map(Duration::from_secs_f64)
}

/// `http://host[:port][/path]`: sets the addresses, the Host header and the path.
fn parse_url(cfg: &mut Config, url: &str) -> Result<(), String> {
    let bad = |why: &str| format!("bad URL {url:?}: {why}");
    let rest = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some(_) => return Err(bad("only http:// is supported")),
        None => return Err(bad("expected http://host:port/path")),
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    if host.is_empty() || authority.contains('@') {
        return Err(bad("no host (or user info, which is not supported)"));
    }
    let port = port.map_or(Ok(80), |p| p.parse::<u16>().map_err(|_| bad("bad port")))?;
    let addrs = (host, port).to_socket_addrs();
    cfg.addrs = addrs
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    if cfg.addrs.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    (cfg.authority, cfg.path) = (authority.to_string(), path);
    Ok(())
}

fn read_files(names: &[String]) -> Result<Vec<Vec<u8>>, String> {
    let mut stdin: Option<Vec<u8>> = None;
    let mut read = |name: &String| {
        if name != "-" {
            return std::fs::read(name).map_err(|e| format!("cannot read {name}: {e}"));
        }
        if stdin.is_none() {
            let mut body = Vec::new();
            io::stdin()
                .read_to_end(&mut body)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            stdin = Some(body);
        }
        Ok(stdin.clone().unwrap_or_default())
    };
    names.iter().map(&mut read).collect()
}

/// The full request for one body, ready for a single write.
fn build_request(cfg: &Config, body: &[u8]) -> Vec<u8> {
    let target = match cfg.absolute {
        true => format!("http://{}{}", cfg.authority, cfg.path),
        false => cfg.path.clone(),
    };
    let kind = if cfg.soap {
        "application/soap+xml"
    } else {
        "application/xml"
    };
    let connection = if cfg.close { "close" } else { "keep-alive" };
    // An empty body always goes with `Content-Length: 0`: to the server a
    // chunked empty POST is not a keepalive.
    let chunked = cfg.chunked && !body.is_empty();
    let framing = match chunked {
        true => "Transfer-Encoding: chunked".to_string(),
        false => format!("Content-Length: {}", body.len()),
    };
    let mut req = format!(
        "POST {target} HTTP/1.1\r\nHost: {}\r\nContent-Type: {kind}; charset=utf-8\r\n\
         {framing}\r\nConnection: {connection}\r\n\r\n",
        cfg.authority
    )
    .into_bytes();
    req.reserve(body.len() + 64);
    if !chunked {
        req.extend_from_slice(body);
        return req;
    }
    // Three chunks of about equal size, as chunking firmware sends a few.
    for piece in body.chunks(body.len().div_ceil(3)) {
        req.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        req.extend_from_slice(piece);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    req
}
