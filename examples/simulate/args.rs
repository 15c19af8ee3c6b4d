//! The command line: the options, the URL and the files, and the requests
//! built from them once, before the run, so that posting is a single write.

use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

pub(crate) const USAGE: &str = "usage: simulate [OPTIONS] URL FILE...

Posts the FILEs (camera XML bodies, round-robin; `-` reads stdin once) to URL
(http://host[:port][/path]) and reports throughput and latency.

  -c, --connections N     concurrent connections (default 1)
  -n, --count N           stop after N posts (default: number of FILEs)
  -d, --duration SECS     stop after SECS seconds (with -n: whichever first)
      --rate R            total posts/s across all connections (default: flat out)
      --close             one connection per post, `Connection: close` (default keep-alive)
      --chunked           send bodies with `Transfer-Encoding: chunked`
      --absolute          absolute-form target `POST http://host:port/path` (as NVRs send)
      --soap              `Content-Type: application/soap+xml` (as NVRs send)
      --keepalive-every S an empty-body keepalive POST every S seconds on each connection
      --burst             one thread opens every connection and posts on it at once,
                          back to back as fast as it can (then -n/-d posts are
                          shared out as usual); reports the slowest first answer
      --quiet             print only the final report
      --json              print the final report as one JSON line
  -h, --help              this text

Exit status: 0 without errors, 1 with any error, 2 on a usage error.";

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

pub(crate) fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Config>, String> {
    let mut cfg = Config {
        connections: 1,
        ..Config::default()
    };
    let (mut positional, mut count) = (Vec::new(), None);
    while let Some(arg) = args.next() {
        if arg == "--" {
            positional.extend(args.by_ref());
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            positional.push(arg);
            continue;
        }
        // `--opt=value` or `--opt value`.
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg, None),
        };
        let mut value = || {
            let v = inline.clone().or_else(|| args.next());
            v.ok_or(format!("{name} needs a value"))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "-c" | "--connections" => cfg.connections = number(&name, &value()?)?,
            "-n" | "--count" => count = Some(number(&name, &value()?)?),
            "-d" | "--duration" => cfg.duration = Some(seconds(&name, &value()?)?),
            "--rate" => cfg.rate = Some(positive(&name, &value()?)?),
            "--keepalive-every" => cfg.keepalive_every = Some(seconds(&name, &value()?)?),
            flag => {
                let on = match flag {
                    "--close" => &mut cfg.close,
                    "--burst" => &mut cfg.burst,
                    "--chunked" => &mut cfg.chunked,
                    "--absolute" => &mut cfg.absolute,
                    "--soap" => &mut cfg.soap,
                    "--quiet" => &mut cfg.quiet,
                    "--json" => &mut cfg.json,
                    _ => return Err(format!("unknown option {name}")),
                };
                if inline.is_some() {
                    return Err(format!("{name} takes no value"));
                }
                *on = true;
            }
        }
    }
    if positional.len() < 2 {
        return Err("need a URL and at least one FILE".into());
    }
    if cfg.connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    parse_url(&mut cfg, &positional[0])?;
    let files = read_files(&positional[1..])?;
    cfg.count = match (count, cfg.duration) {
        (Some(n), _) => n,
        (None, Some(_)) => u64::MAX,
        (None, None) if cfg.burst => cfg.connections as u64, // one post each
        (None, None) => files.len() as u64,
    };
    cfg.posts = files.iter().map(|body| build_request(&cfg, body)).collect();
    cfg.keepalive = build_request(&cfg, &[]);
    Ok(Some(cfg))
}

fn number<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{name}: not a whole number: {v:?}"))
}

/// A positive number (below 10⁹).
fn positive(name: &str, v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(x) if x > 0.0 && x < 1e9 => Ok(x),
        _ => Err(format!("{name}: not a positive number: {v:?}")),
    }
}

fn seconds(name: &str, v: &str) -> Result<Duration, String> {
    positive(name, v).map(Duration::from_secs_f64)
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
