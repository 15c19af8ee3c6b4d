//! Server configuration: the builder and its typed errors.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use super::callbacks::Callbacks;
use super::callbacks::UnparsedReason;
use super::guard::{BasicAuth, Cidr};
use super::pages::{Page, Pages};
use super::stats::Stats;
use crate::{AlarmStatus, Event};

/// What to do with an event when the [`events`](super::Server::events) channel is full.
///
/// ```
/// use viewtron::{Overflow, Server};
///
/// let server = Server::builder().port(0).overflow(Overflow::DropTraject).build()?;
/// # server.shutdown();
/// # Ok::<(), viewtron::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Wait for the consumer (back-pressure): nothing is ever dropped; the
    /// cameras' posts queue up in the kernel and in tiny_http meanwhile.
    #[default]
    Block,
    /// Drop tracking (traject) events while the channel is full, block for
    /// all others. Every drop is counted in [`Stats::dropped`](super::Stats).
    DropTraject,
    /// Drop any event while the channel is full, counting each.
    DropNewest,
}

/// Why a [`Server`](super::Server) could not be built.
///
/// ```
/// let first = viewtron::Server::builder().bind("127.0.0.1".parse().unwrap()).port(0).build()?;
/// let port = first.local_addr().port();
/// let err = viewtron::Server::builder().bind("127.0.0.1".parse().unwrap()).port(port).build().unwrap_err();
/// assert!(matches!(err, viewtron::BuildError::Bind { .. }));
/// # first.shutdown();
/// # Ok::<(), viewtron::BuildError>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The address could not be bound (in use, no permission, not local).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A setting is out of range.
    #[error("invalid setting `{setting}`: {reason}")]
    Invalid {
        /// The builder method.
        setting: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A worker thread could not be started.
    #[error("cannot start a worker thread: {0}")]
    Spawn(std::io::Error),
}

/// Settings the running server reads.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub bind: IpAddr,
    pub port: u16,
    pub workers: usize,
    pub channel_capacity: usize,
    pub overflow: Overflow,
    pub paths: Vec<String>,
    pub max_body: usize,
    pub channel: Option<bool>,
    pub read_timeout: Duration,
    pub body_timeout: Duration,
    pub max_per_address: usize,
    pub max_workers: usize,
    pub allow: Vec<Cidr>,
    pub trusted_proxies: Vec<Cidr>,
    /// Redacted in `Debug` (the password shows as `***`).
    pub credentials: Option<BasicAuth>,
    pub pages: Pages,
}

/// Configures and starts a [`Server`](super::Server). Every setter has a sensible default.
///
/// ```
/// use viewtron::Server;
///
/// let server = Server::builder()
///     .port(0)                       // any free port (default 5050)
///     .workers(4)
///     .on_event(|event, ip| println!("{} from {ip}", event.description()))
///     .build()?;
/// assert_ne!(server.local_addr().port(), 0);
/// server.shutdown();
/// # Ok::<(), viewtron::BuildError>(())
/// ```
#[must_use = "a builder does nothing until .build() is called"]
pub struct ServerBuilder {
    pub(crate) config: Config,
    pub(crate) callbacks: Callbacks,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        ServerBuilder {
            config: Config {
                bind: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                port: 5050,
                workers: (cores * 2).max(4),
                channel_capacity: 256,
                overflow: Overflow::Block,
                paths: Vec::new(),
                max_body: 16 * 1024 * 1024,
                channel: None,
                read_timeout: Duration::from_secs(150),
                body_timeout: Duration::from_secs(30),
                max_per_address: 8,
                max_workers: 128,
                allow: Vec::new(),
                trusted_proxies: Vec::new(),
                credentials: None,
                pages: Pages::default(),
            },
            callbacks: Callbacks::default(),
        }
    }
}

impl fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("config", &self.config)
            .field("callbacks", &self.callbacks)
            .finish()
    }
}

impl ServerBuilder {
    /// TCP port to listen on (default 5050; 0 picks a free one, see
    /// [`Server::local_addr`](super::Server::local_addr)).
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).build()?;
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn port(mut self, port: u16) -> Self {
        self.config.port = port;
        self
    }

    /// Address to listen on. The default, `::`, accepts IPv4 and IPv6 on
    /// every interface (falling back to `0.0.0.0` where IPv6 is off).
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    ///
    /// let server = viewtron::Server::builder().bind(Ipv4Addr::LOCALHOST.into()).port(0).build()?;
    /// assert!(server.local_addr().ip().is_loopback());
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn bind(mut self, addr: IpAddr) -> Self {
        self.config.bind = addr;
        self
    }

    /// Number of worker threads that answer, parse and deliver (default:
    /// twice the cores, at least 4). Each runs your callbacks; a callback
    /// that blocks holds one worker, never the others. While clients hold
    /// workers with slow bodies, more are started so that this many stay
    /// free, up to [`max_workers`](Self::max_workers).
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).workers(2).build()?;
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn workers(mut self, workers: usize) -> Self {
        self.config.workers = workers;
        self
    }

    /// Capacity of the [`events`](super::Server::events) channel (default 256 events).
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).channel_capacity(16).build()?;
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn channel_capacity(mut self, capacity: usize) -> Self {
        self.config.channel_capacity = capacity;
        self
    }

    /// Whether events go to the [`events`](super::Server::events) channel. By
    /// default they do exactly when no [`on_event`](Self::on_event) callback
    /// is set; `true` sends them to both (callback first), `false` to the
    /// callback only.
    ///
    /// ```
    /// let server = viewtron::Server::builder()
    ///     .port(0)
    ///     .on_event(|event, _| log::info!("{}", event.description()))
    ///     .channel(true) // and queue them for server.events() too
    ///     .build()?;
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn channel(mut self, enabled: bool) -> Self {
        self.config.channel = Some(enabled);
        self
    }

    /// What to do when the channel is full (default [`Overflow::Block`]).
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).overflow(viewtron::Overflow::DropNewest).build()?;
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn overflow(mut self, policy: Overflow) -> Self {
        self.config.overflow = policy;
        self
    }

    /// Accepts posts only to this path (repeatable; default: any path).
    /// Others are answered `404`. Absolute-form targets (`http://host/API`)
    /// are matched by their path; query strings are ignored.
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).path("/API").build()?;
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.config.paths.push(path.into());
        self
    }

    /// Largest body accepted, in bytes (default 16 MiB, at most 1 GiB;
    /// camera posts stay under 1 MiB). A larger `Content-Length` is answered
    /// `413` before anything is read; a chunked body that grows past it is
    /// answered `413` and its connection parked.
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).max_body(2 << 20).build()?;
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.config.max_body = bytes;
        self
    }

    /// Closes a connection that sends nothing for this long: a stalled
    /// request line or header, or an idle keep-alive connection (default
    /// 150 s, above the cameras' longest heartbeat gap of 120 s; at least
    /// 1 s). Bodies have their own, shorter deadline:
    /// [`body_timeout`](Self::body_timeout).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let server = viewtron::Server::builder().port(0).read_timeout(Duration::from_secs(130)).build()?;
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.config.read_timeout = timeout;
        self
    }

    /// Answers `408` to a post whose body is not complete this long after
    /// a worker took its head (default 30 s; at least 1 s). Camera posts
    /// arrive in milliseconds; this bounds how long a client trickling its
    /// body can hold a worker. A body that trickles is cut at the first read
    /// after the deadline; one that stalls completely is cut by the server
    /// at the deadline where it can reach the connection's socket, else
    /// when the waiting read returns, [`read_timeout`](Self::read_timeout)
    /// after the last byte. Nothing of the body is delivered; the refusal is
    /// counted as `body_timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let server = viewtron::Server::builder().port(0).body_timeout(Duration::from_secs(10)).build()?;
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.config.body_timeout = timeout;
        self
    }

    /// At most this many requests in progress from one camera address
    /// (default 8; at least 1): from the moment a worker takes a request
    /// until it is answered. A camera posts one request at a time, an NVR a
    /// few; 8 leaves room for a few cameras behind one NAT address. Beyond
    /// it a request is answered `429` before its body is read, and counted
    /// as `per_address_cap`. Behind a [trusted proxy](Self::trusted_proxies)
    /// the camera's own address counts, not the proxy's.
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).max_per_address(4).build()?;
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn max_per_address(mut self, requests: usize) -> Self {
        self.config.max_per_address = requests;
        self
    }

    /// The most worker threads there may be (default 128, and never fewer
    /// than [`workers`](Self::workers)). Workers beyond `workers` are
    /// started only while clients hold workers with slow bodies, and end
    /// once idle. Each body in progress holds one worker and its buffer (up
    /// to 1 MiB, or twice the bytes received for larger bodies), so this
    /// bounds both the threads and the memory that slow clients can take:
    /// past it, new requests wait for a worker.
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).max_workers(64).build()?;
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn max_workers(mut self, workers: usize) -> Self {
        self.config.max_workers = workers;
        self
    }

    /// Accepts posts only from this network (repeatable; default: anyone).
    /// Others are answered `403` before their body is read and nothing is
    /// delivered. Behind a [trusted proxy](Self::trusted_proxies) the
    /// camera's address is checked, not the proxy's.
    ///
    /// ```
    /// let server = viewtron::Server::builder()
    ///     .port(0)
    ///     .allow("192.168.1.0/24".parse()?)
    ///     .allow("127.0.0.1".parse()?)
    ///     .build()?;
    /// # server.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allow(mut self, network: Cidr) -> Self {
        self.config.allow.push(network);
        self
    }

    /// Believes `X-Forwarded-For` from these peers (default: from nobody).
    ///
    /// Behind a reverse proxy every connection comes from the proxy. A
    /// request whose TCP peer is inside one of these networks takes the
    /// camera's address from `X-Forwarded-For` instead: the right-most
    /// address in it that is not itself trusted (entries further left may be
    /// forged by the client). From any other peer the header is ignored, so
    /// nobody else can pick an address. The camera's address is what the
    /// server reports and checks everywhere: the `IpAddr` given to callbacks,
    /// [`on_connect`](Self::on_connect), [`allow`](Self::allow),
    /// [`Stats::cameras`](super::Stats) and the log.
    /// Repeatable; each call adds networks.
    ///
    /// ```
    /// let server = viewtron::Server::builder()
    ///     .port(0)
    ///     .trusted_proxies(["127.0.0.1".parse()?, "::1".parse()?])
    ///     .build()?;
    /// # server.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn trusted_proxies(mut self, networks: impl IntoIterator<Item = Cidr>) -> Self {
        self.config.trusted_proxies.extend(networks);
        self
    }

    /// Requires HTTP Basic credentials (the user name and password set for
    /// the server on the camera). Missing or wrong credentials are answered
    /// `401` with `WWW-Authenticate: Basic`; the comparison takes the same
    /// time wherever the credentials differ.
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).basic_auth("camera", "s3cret").build()?;
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.config.credentials = Some(BasicAuth {
            user: user.into(),
            password: password.into(),
        });
        self
    }

    /// Answers `GET path` (and `HEAD`) with the [`Page`] that `f` makes
    /// from a fresh [`Stats`] snapshot, instead of the default text: a
    /// health check, or Prometheus metrics with [`Stats::prometheus`].
    /// `path` is matched exactly (query strings ignored); adding a path
    /// again replaces its page. Pages sit behind [`allow`](Self::allow) like
    /// posts; [`path`](Self::path) and credentials apply to posts only. A
    /// panic in `f` is caught and answered `500`.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use viewtron::{Page, Server};
    ///
    /// let server = Server::builder()
    ///     .bind("127.0.0.1".parse().unwrap())
    ///     .port(0)
    ///     .page("/metrics", |stats| Page::metrics(stats.prometheus()))
    ///     .page("/healthz", |_| Page::text("ok"))
    ///     .build()?;
    /// let mut tcp = std::net::TcpStream::connect(server.local_addr())?;
    /// tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    /// let mut answer = String::new();
    /// tcp.read_to_string(&mut answer)?;
    /// assert!(answer.starts_with("HTTP/1.1 200"));
    /// assert!(answer.contains("viewtron_requests_total 1"));
    /// # server.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn page<F>(mut self, path: impl Into<String>, f: F) -> Self
    where
        F: Fn(&Stats) -> Page + Send + Sync + 'static,
    {
        self.config.pages.add(path.into(), Arc::new(f));
        self
    }

    /// Called for each event (not keepalives, not alarm statuses), on a
    /// worker thread, after the camera has been answered.
    ///
    /// ```
    /// let server = viewtron::Server::builder()
    ///     .port(0)
    ///     .on_event(|event, ip| println!("[{}] {} from {ip}", event.category(), event.description()))
    ///     .build()?;
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn on_event<F>(mut self, f: F) -> Self
    where
        F: Fn(Event, IpAddr) + Send + Sync + 'static,
    {
        self.callbacks.on_event = Some(Arc::new(f));
        self
    }

    /// Called once per camera IP, on its first contact of any kind.
    ///
    /// ```
    /// let server = viewtron::Server::builder()
    ///     .port(0)
    ///     .on_connect(|ip| println!("camera connected: {ip}"))
    ///     .build()?;
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn on_connect<F>(mut self, f: F) -> Self
    where
        F: Fn(IpAddr) + Send + Sync + 'static,
    {
        self.callbacks.on_connect = Some(Arc::new(f));
        self
    }

    /// Called with every non-empty body except tracking (traject) posts,
    /// before the event callback. Non-UTF-8 bytes are replaced by U+FFFD.
    ///
    /// ```
    /// let server = viewtron::Server::builder()
    ///     .port(0)
    ///     .on_raw(|xml, ip| log::debug!("{ip}: {} bytes", xml.len()))
    ///     .build()?;
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn on_raw<F>(mut self, f: F) -> Self
    where
        F: Fn(&str, IpAddr) + Send + Sync + 'static,
    {
        self.callbacks.on_raw = Some(Arc::new(f));
        self
    }

    /// Called with posts that are not events: unknown `smartType`, missing
    /// `messageType`, malformed XML, and alarm statuses when no
    /// [`on_alarm_status`](Self::on_alarm_status) is set.
    ///
    /// ```
    /// let server = viewtron::Server::builder()
    ///     .port(0)
    ///     .on_unparsed(|_xml, ip, reason| eprintln!("{ip}: not an event ({reason})"))
    ///     .build()?;
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn on_unparsed<F>(mut self, f: F) -> Self
    where
        F: Fn(&str, IpAddr, &UnparsedReason) + Send + Sync + 'static,
    {
        self.callbacks.on_unparsed = Some(Arc::new(f));
        self
    }

    /// Called for alarm on/off posts (opt-in; they never reach `on_event`).
    ///
    /// ```
    /// let server = viewtron::Server::builder()
    ///     .port(0)
    ///     .on_alarm_status(|status, ip| {
    ///         for alarm in &status.alarms {
    ///             println!("{ip}: {} {}", alarm.name, if alarm.active { "on" } else { "off" });
    ///         }
    ///     })
    ///     .build()?;
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn on_alarm_status<F>(mut self, f: F) -> Self
    where
        F: Fn(AlarmStatus, IpAddr) + Send + Sync + 'static,
    {
        self.callbacks.on_alarm_status = Some(Arc::new(f));
        self
    }

    /// The settings checked, as [`build`](ServerBuilder::build) needs them.
    pub(crate) fn checked(self) -> Result<ServerBuilder, BuildError> {
        let c = &self.config;
        let invalid = |setting, reason| Err(BuildError::Invalid { setting, reason });
        if c.workers == 0 || c.workers > 1024 {
            return invalid("workers", "must be between 1 and 1024");
        }
        if c.channel_capacity == 0 {
            return invalid("channel_capacity", "must be at least 1");
        }
        if c.max_body == 0 || c.max_body > 1 << 30 {
            return invalid("max_body", "must be between 1 byte and 1 GiB");
        }
        if c.read_timeout < Duration::from_secs(1) {
            return invalid("read_timeout", "must be at least 1 second");
        }
        if c.body_timeout < Duration::from_secs(1) {
            return invalid("body_timeout", "must be at least 1 second");
        }
        if c.max_per_address == 0 {
            return invalid("max_per_address", "must be at least 1");
        }
        if c.max_workers > 4096 {
            return invalid("max_workers", "must be at most 4096");
        }
        if let Some(auth) = &c.credentials {
            if auth.user.contains(':') {
                return invalid("basic_auth", "the user name cannot contain ':'");
            }
        }
        if c.paths.iter().any(|p| !p.starts_with('/')) {
            return invalid("path", "must start with '/'");
        }
        Ok(self)
    }
}
