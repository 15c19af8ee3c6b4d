//! A camera simulator: posts saved camera XML to an event server the way a
//! Viewtron IP camera or NVR does, for trying the crate without a camera and
//! for benchmarks. Plain `std::net` and threads, one thread per connection.
//!
//! ```text
//! cargo run --release --example simulate -- [OPTIONS] URL FILE...
//! cargo run --release --example simulate -- http://127.0.0.1:5050/API post.xml
//! cargo run --release --example simulate -- -c 8 -d 10 http://127.0.0.1:5050/API a.xml b.xml
//! cargo run --release --example simulate -- --close --absolute --soap -n 1000 http://[::1]:5050/API nvr.xml
//! cargo run --release --example simulate -- --rate 50 -d 300 --keepalive-every 90 http://localhost:5050/API -
//! ```
//!
//! The FILEs are post bodies, sent round-robin (`-` reads standard input once).
//! URL is `http://host[:port][/path]` with an IPv4 address, an IPv6 address in
//! brackets or a host name. Each of the `-c` connections writes one request (in
//! one write) and reads the whole answer before the next; a non-200 answer or a
//! connection error counts as an error and that connection reconnects, as a
//! camera does. The run stops after `-n` posts or `-d` seconds, whichever comes
//! first (default: one post per FILE). At the end it prints one report line:
//!
//! ```text
//! posts=10000 ok=10000 errors=0 elapsed=1.234s rate=8103.7/s tx=21.55MB/s p50=0.101ms p90=0.150ms p99=0.300ms max=2.100ms
//! ```
//!
//! `rate` is posts (ok or not) per second, `tx` request bytes of ok posts per
//! second; latencies are those of ok posts, from the write (or the connect,
//! when the post opens a connection) to the end of the answer. Keepalives sent by `--keepalive-every` are counted apart
//! (`keepalives=`); failed ones count as errors. Exit status: 0 without errors,
//! 1 with any, 2 on a usage error.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{mpsc, Condvar, Mutex};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: simulate [OPTIONS] URL FILE...

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

/// Time allowed for connecting, for one write and for one read.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed connect, so that a dead server is not hammered.
const CONNECT_BACKOFF: Duration = Duration::from_millis(50);
/// Error messages printed (without --quiet) before going silent.
const MAX_ERROR_LINES: u64 = 10;

/// Posts handed out so far: ticket `i` sends file `i % files`.
static TICKETS: AtomicU64 = AtomicU64::new(0);
static ERROR_LINES: AtomicU64 = AtomicU64::new(0);
/// Burst connections whose first post is answered or failed, and the
/// condition their threads sleep on until every one is: a thousand threads
/// polling a counter would take the cores from the server being measured.
static BURST_ANSWERED: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

#[derive(Default)]
struct Config {
    addrs: Vec<SocketAddr>,
    /// `host[:port]` as written in the URL: the Host header.
    authority: String,
    path: String,
    /// The full request (head + body) per file, built once before the run.
    posts: Vec<Vec<u8>>,
    keepalive: Vec<u8>,
    connections: usize,
    /// `u64::MAX` when only the duration limits the run.
    count: u64,
    duration: Option<Duration>,
    rate: Option<f64>,
    keepalive_every: Option<Duration>,
    close: bool,
    burst: bool,
    chunked: bool,
    absolute: bool,
    soap: bool,
    quiet: bool,
    json: bool,
}

#[derive(Default)]
struct Tally {
    posts: u64,
    ok: u64,
    errors: u64,
    keepalives: u64,
    bytes: u64,
    /// Microseconds, one per ok post.
    latency: Vec<u32>,
    /// Microseconds to each connection's first answer (from its connect).
    first: Vec<u32>,
}

fn main() -> ExitCode {
    let cfg = match parse_args(std::env::args().skip(1)) {
        Ok(Some(cfg)) => cfg,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("simulate: {msg}\n(simulate --help for usage)");
            return ExitCode::from(2);
        }
    };
    if !cfg.quiet {
        let (n, c, addr, path) = (cfg.posts.len(), cfg.connections, cfg.addrs[0], &cfg.path);
        eprintln!("simulate: {n} file(s) to {addr}{path} over {c} connection(s)");
    }
    if cfg.burst {
        // Tickets below `connections` are the connections' first posts.
        TICKETS.store(cfg.connections as u64, Relaxed);
    }
    let start = Instant::now();
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let cfg = &cfg;
        let (handoffs, threads): (Vec<_>, Vec<_>) = (0..cfg.connections)
            .map(|i| {
                let (tx, rx) = mpsc::sync_channel(1);
                let rx = cfg.burst.then_some(rx);
                (tx, s.spawn(move || run_connection(cfg, i, rx, start)))
            })
            .unzip();
        if cfg.burst {
            burst(cfg, handoffs);
        }
        threads
            .into_iter()
            .map(|t| t.join().expect("connection thread panicked"))
            .collect()
    });
    match report(&cfg, tallies, start.elapsed()) {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

// ---------------------------------------------------------------- arguments

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Config>, String> {
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

// ---------------------------------------------------------------- connection loop

/// A burst's opened connection: the stream, its post sent at the instant.
type Opened = (io::Result<TcpStream>, Instant);

/// A burst: with every connection thread waiting, one thread starts every
/// connection without waiting for it (as load generators such as wrk do),
/// then posts on each, back to back, and hands it to its thread to read the
/// answer: the connections arrive as fast as the kernel completes them, as
/// when cameras come back after an outage.
fn burst(cfg: &Config, handoffs: Vec<mpsc::SyncSender<Opened>>) {
    let started: Vec<_> = handoffs
        .iter()
        .map(|_| start_connect(cfg.addrs[0]))
        .collect();
    for (i, (handoff, socket)) in handoffs.into_iter().zip(started).enumerate() {
        let post = &cfg.posts[i % cfg.posts.len()];
        let sent = Instant::now();
        let stream = socket.and_then(|mut s| s.write_all(post).map(|()| s));
        let _ = handoff.send((stream, sent));
    }
}

/// A connection started without waiting for its handshake; the first write
/// waits for it.
fn start_connect(addr: SocketAddr) -> io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    match socket.connect(&addr.into()) {
        Err(e) if e.raw_os_error() != Some(EINPROGRESS) => return Err(e),
        _ => {}
    }
    socket.set_nonblocking(false)?;
    socket.set_nodelay(true)?;
    socket.set_read_timeout(Some(IO_TIMEOUT))?;
    socket.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(socket.into())
}

/// `connect` on a non-blocking socket: "operation now in progress" (Linux).
const EINPROGRESS: i32 = 115;

fn run_connection(
    cfg: &Config,
    index: usize,
    burst: Option<mpsc::Receiver<Opened>>,
    start: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut link = Link {
        buf: vec![0; 64 << 10],
        ..Link::default()
    };
    // In a burst the first post was sent for us; its answer is read here.
    if let Some((opened, sent)) = burst.and_then(|rx| rx.recv().ok()) {
        tally.posts += 1;
        let post = &cfg.posts[index % cfg.posts.len()];
        let answer = opened.and_then(|stream| {
            (link.stream, link.start, link.end) = (Some(stream), 0, 0);
            link.answer(cfg)
        });
        match answer {
            Ok(()) => {
                let micros = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
                (tally.ok, tally.bytes) = (1, post.len() as u64);
                tally.first.push(micros);
                tally.latency.push(micros);
            }
            Err(e) => tally.fail(cfg, index, "post", &e),
        }
        // Cameras keep their connections open: none closes (which would
        // free a server thread) before every first answer is in.
        let (answered, all_in) = &BURST_ANSWERED;
        let mut answered = answered.lock().unwrap_or_else(|e| e.into_inner());
        *answered += 1;
        if *answered == cfg.connections {
            all_in.notify_all();
        }
        while *answered < cfg.connections {
            answered = all_in.wait(answered).unwrap_or_else(|e| e.into_inner());
        }
        drop(answered);
    }
    let deadline = cfg.duration.map(|d| start + d);
    let conns = cfg.connections as u32;
    // Each connection paces itself at rate / connections, staggered.
    let interval = cfg
        .rate
        .map(|r| Duration::from_secs_f64(f64::from(conns) / r));
    let mut next_post = start + interval.unwrap_or_default() * index as u32 / conns;
    let mut next_keepalive = cfg.keepalive_every.map(|every| start + every);
    let expected = match (cfg.count, cfg.rate, cfg.duration) {
        (n, _, _) if n != u64::MAX => n / u64::from(conns) + 1,
        (_, Some(r), Some(d)) => (r * d.as_secs_f64()) as u64 / u64::from(conns) + 1,
        _ => 1 << 16,
    };
    tally.latency.reserve(expected.min(1 << 20) as usize);
    loop {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break;
        }
        if let (Some(at), Some(every)) = (next_keepalive, cfg.keepalive_every) {
            if now >= at {
                next_keepalive = Some((at + every).max(now));
                tally.keepalives += 1;
                match link.exchange(cfg, &cfg.keepalive) {
                    Ok(()) => tally.bytes += cfg.keepalive.len() as u64,
                    Err(e) => tally.fail(cfg, index, "keepalive", &e),
                }
                continue;
            }
        }
        if let Some(interval) = interval {
            if now < next_post {
                let wake = [Some(next_post), next_keepalive, deadline]
                    .into_iter()
                    .flatten()
                    .min();
                std::thread::sleep(wake.unwrap_or(next_post).saturating_duration_since(now));
                continue;
            }
            next_post += interval;
        }
        let ticket = TICKETS.fetch_add(1, Relaxed);
        if ticket >= cfg.count {
            break;
        }
        let req = &cfg.posts[(ticket % cfg.posts.len() as u64) as usize];
        tally.posts += 1;
        match link.exchange(cfg, req) {
            Ok(()) => {
                tally.ok += 1;
                tally.bytes += req.len() as u64;
                let micros = u32::try_from(now.elapsed().as_micros()).unwrap_or(u32::MAX);
                if tally.ok == 1 {
                    tally.first.push(micros);
                }
                tally.latency.push(micros);
            }
            Err(e) => tally.fail(cfg, index, "post", &e),
        }
    }
    tally
}

impl Tally {
    fn fail(&mut self, cfg: &Config, index: usize, what: &str, e: &io::Error) {
        self.errors += 1;
        let n = ERROR_LINES.fetch_add(1, Relaxed);
        if !cfg.quiet && n < MAX_ERROR_LINES {
            let more = if n + 1 == MAX_ERROR_LINES {
                " (no more error lines)"
            } else {
                ""
            };
            eprintln!("simulate: connection {index}: {what} failed: {e}{more}");
        }
    }

    fn add(&mut self, other: Tally) {
        self.posts += other.posts;
        self.ok += other.ok;
        self.errors += other.errors;
        self.keepalives += other.keepalives;
        self.bytes += other.bytes;
        self.latency.extend_from_slice(&other.latency);
        self.first.extend_from_slice(&other.first);
    }
}

/// One client connection (reopened as needed) and its reusable read buffer,
/// whose unread bytes are `buf[start..end]`.
#[derive(Default)]
struct Link {
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Link {
    /// Sends one request in one write and reads its whole answer. Any failure
    /// drops the connection; the next call reconnects.
    fn exchange(&mut self, cfg: &Config, req: &[u8]) -> io::Result<()> {
        let result = self.try_exchange(cfg, req);
        if result.is_err() || cfg.close {
            self.stream = None;
        }
        result
    }

    fn try_exchange(&mut self, cfg: &Config, req: &[u8]) -> io::Result<()> {
        if self.stream.is_none() {
            let stream =
                connect(&cfg.addrs).inspect_err(|_| std::thread::sleep(CONNECT_BACKOFF))?;
            (self.stream, self.start, self.end) = (Some(stream), 0, 0);
        }
        self.stream.as_mut().expect("connected").write_all(req)?;
        self.answer(cfg)
    }

    /// Reads the answer to a request already sent.
    fn answer(&mut self, cfg: &Config) -> io::Result<()> {
        let result = self.status();
        if result.is_err() || cfg.close {
            self.stream = None;
        }
        result
    }

    fn status(&mut self) -> io::Result<()> {
        let (status, keep_open) = self.read_response()?;
        if !keep_open {
            self.stream = None;
        }
        match status {
            200 => Ok(()),
            s => Err(io::Error::other(format!("HTTP status {s}"))),
        }
    }

    /// Reads one answer: its status and whether the connection stays open.
    fn read_response(&mut self) -> io::Result<(u16, bool)> {
        loop {
            let head_len = loop {
                match find(&self.buf[self.start..self.end], b"\r\n\r\n") {
                    Some(i) => break i + 4,
                    None => self.fill()?,
                }
            };
            let head = parse_head(&self.buf[self.start..self.start + head_len])?;
            let (status, length, chunked, mut keep_open) = head;
            self.start += head_len;
            match (status, chunked, length) {
                (100..=199, _, _) => continue, // 100 Continue: the answer follows.
                (204 | 304, _, _) => {}
                (_, true, _) => self.skip_chunked()?,
                (_, false, Some(n)) => self.skip(n)?,
                (_, false, None) => {
                    // No framing: the body runs to the end of the connection.
                    while self.fill().is_ok() {
                        self.start = self.end;
                    }
                    keep_open = false;
                }
            }
            return Ok((status, keep_open));
        }
    }

    /// Reads more bytes into the buffer; the end of the stream is an error.
    fn fill(&mut self) -> io::Result<()> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
            if self.end == self.buf.len() {
                return Err(io::Error::other("answer head too large"));
            }
        }
        let stream = self.stream.as_mut().expect("connected");
        match stream.read(&mut self.buf[self.end..])? {
            0 => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            )),
            n => {
                self.end += n;
                Ok(())
            }
        }
    }

    fn skip(&mut self, mut n: u64) -> io::Result<()> {
        loop {
            let have = ((self.end - self.start) as u64).min(n);
            (self.start, n) = (self.start + have as usize, n - have);
            if n == 0 {
                return Ok(());
            }
            self.fill()?;
        }
    }

    /// The next line, without its CRLF, as a range of `buf`.
    fn line(&mut self) -> io::Result<(usize, usize)> {
        loop {
            if let Some(i) = find(&self.buf[self.start..self.end], b"\r\n") {
                let line = (self.start, self.start + i);
                self.start += i + 2;
                return Ok(line);
            }
            self.fill()?;
        }
    }

    fn skip_chunked(&mut self) -> io::Result<()> {
        let bad = || io::Error::other("malformed chunked answer");
        loop {
            let (a, b) = self.line()?;
            let size = self.buf[a..b]
                .split(|&c| c == b';')
                .next()
                .unwrap_or_default();
            let size = std::str::from_utf8(size).map_err(|_| bad())?.trim();
            match u64::from_str_radix(size, 16).map_err(|_| bad())? {
                0 => break,
                n => self.skip(n)?,
            }
            let (a, b) = self.line()?;
            if a != b {
                return Err(bad());
            }
        }
        // Trailers, up to the empty line.
        while self.line().map(|(a, b)| a != b)? {}
        Ok(())
    }
}

fn connect(addrs: &[SocketAddr]) -> io::Result<TcpStream> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(addr, IO_TIMEOUT) {
            Ok(s) => {
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(IO_TIMEOUT))?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                return Ok(s);
            }
            Err(e) => last = Some(io::Error::new(e.kind(), format!("connect {addr}: {e}"))),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no address")))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Status line and headers → (status, Content-Length, chunked, keep open).
fn parse_head(head: &[u8]) -> io::Result<(u16, Option<u64>, bool, bool)> {
    let bad = || io::Error::other("malformed answer head");
    let mut lines = std::str::from_utf8(head).map_err(|_| bad())?.split("\r\n");
    let mut status_line = lines.next().unwrap_or_default().split(' ');
    let version = status_line
        .next()
        .filter(|v| v.starts_with("HTTP/1."))
        .ok_or_else(bad)?;
    let status: u16 = status_line
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let (mut length, mut chunked, mut keep_open) = (None, false, version == "HTTP/1.1");
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or_else(bad)?;
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse().map_err(|_| bad())?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .split(',')
                .any(|v| v.trim().eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            keep_open = match value {
                v if v.eq_ignore_ascii_case("close") => false,
                v if v.eq_ignore_ascii_case("keep-alive") => true,
                _ => keep_open,
            };
        }
    }
    Ok((status, length, chunked, keep_open))
}

// ---------------------------------------------------------------- report

/// Prints the report; returns the number of errors.
fn report(cfg: &Config, tallies: Vec<Tally>, elapsed: Duration) -> u64 {
    let mut all = Tally::default();
    all.latency
        .reserve_exact(tallies.iter().map(|t| t.latency.len()).sum());
    tallies.into_iter().for_each(|t| all.add(t));
    all.latency.sort_unstable();
    let Tally {
        posts,
        ok,
        errors,
        keepalives,
        bytes,
        latency,
        mut first,
    } = all;
    first.sort_unstable();
    let answered = first.len();
    let first_ms = |p: f64, none: &str| {
        let rank = ((p * first.len() as f64).ceil() as usize).max(1);
        let micros = first.get(rank.min(first.len()).wrapping_sub(1));
        micros.map_or(none.to_string(), |&us| {
            format!("{:.3}", f64::from(us) / 1000.0)
        })
    };
    let secs = elapsed.as_secs_f64().max(1e-9);
    let (rate, bytes_per_s) = (posts as f64 / secs, bytes as f64 / secs);
    // Nearest-rank percentile in milliseconds, or `none` without samples.
    let ms = |p: f64, none: &str, unit: &str| {
        let rank = ((p * latency.len() as f64).ceil() as usize).max(1);
        let micros = latency.get(rank.min(latency.len()).wrapping_sub(1));
        micros.map_or(none.to_string(), |&us| {
            format!("{:.3}{unit}", f64::from(us) / 1000.0)
        })
    };
    if cfg.json {
        let ms = |p| ms(p, "null", "");
        println!(
            "{{\"posts\":{posts},\"ok\":{ok},\"errors\":{errors},\"keepalives\":{keepalives},\
             \"bytes\":{bytes},\"elapsed_s\":{secs:.3},\"rate\":{rate:.1},\
             \"bytes_per_s\":{bytes_per_s:.0},\"p50_ms\":{},\"p90_ms\":{},\"p99_ms\":{},\
             \"max_ms\":{},\"connections\":{},\"answered_connections\":{answered},\
             \"first_p99_ms\":{},\"first_max_ms\":{}}}",
            ms(0.5),
            ms(0.9),
            ms(0.99),
            ms(1.0),
            cfg.connections,
            first_ms(0.99, "null"),
            first_ms(1.0, "null"),
        );
    } else {
        let ms = |p| ms(p, "-", "ms");
        let ka = if keepalives > 0 {
            format!(" keepalives={keepalives}")
        } else {
            String::new()
        };
        println!(
            "posts={posts} ok={ok} errors={errors}{ka} elapsed={secs:.3}s rate={rate:.1}/s \
             tx={:.2}MB/s p50={} p90={} p99={} max={} answered_connections={answered}/{} \
             first_max={}ms",
            bytes_per_s / 1e6,
            ms(0.5),
            ms(0.9),
            ms(0.99),
            ms(1.0),
            cfg.connections,
            first_ms(1.0, "-"),
        );
    }
    errors
}
