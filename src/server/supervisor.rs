//! Keeps tiny_http's accept loop alive.
//!
//! tiny_http 0.12 ends its accept thread for good on the first `accept()`
//! error (EMFILE, or EAGAIN once the listener's `SO_RCVTIMEO` elapses with no
//! new client), and a descriptor shortage inside `try_clone` panics it
//! silently. The listening socket itself is fine in both cases, so the
//! supervisor keeps the original socket and, when a generation's accept loop
//! dies, starts a new tiny_http server on a duplicate of it. The old
//! generation keeps serving the connections it accepted, through a
//! lingering worker that retires once they have gone quiet.
//!
//! Deaths are noticed two ways: a worker's `recv` reporting the accept error,
//! and a periodic health probe (a GET to our own listening address) that
//! gets no answer.
//!
//! The supervisor also *nudges* the server every 100 ms with a connection to
//! itself that it closes at once. tiny_http's connection thread pool can
//! leave a new connection queued behind busy threads when several arrive
//! together (its `spawn` counts waiting threads that were already woken), and
//! that connection is then served only when some other connection starts or
//! ends; each nudge is such a start. Nudges also keep `accept()` from idling
//! into the listener's receive timeout.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::stats::bump;
use super::worker::{Shared, Worker};

/// Path of the health probe's GET; answered without counting it.
pub(crate) const PROBE_PATH: &str = "/.viewtron-probe";

/// One tiny_http server over a duplicate of the listening socket.
pub(crate) struct Generation {
    pub id: u64,
    pub http: tiny_http::Server,
    /// Requests taken from this generation.
    pub served: AtomicU64,
    pub dead: AtomicBool,
}

impl Generation {
    pub fn start(id: u64, listener: &TcpListener) -> std::io::Result<Arc<Generation>> {
        let http = tiny_http::Server::from_listener(listener.try_clone()?, None)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Arc::new(Generation {
            id,
            http,
            served: AtomicU64::new(0),
            dead: AtomicBool::new(false),
        }))
    }
}

/// Messages to the supervisor.
#[derive(Debug)]
pub(crate) enum Notice {
    /// The accept loop of this generation reported an error.
    Dead(u64),
    /// Shutting down.
    Stop,
}

/// The currently accepting generation; `None` once the server has stopped
/// (dropping it closes the listening socket).
pub(crate) struct Current(RwLock<Option<Arc<Generation>>>);

impl Current {
    pub fn new(g: Arc<Generation>) -> Current {
        Current(RwLock::new(Some(g)))
    }

    pub fn get(&self) -> Option<Arc<Generation>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn replace(&self, g: Arc<Generation>) -> Option<Arc<Generation>> {
        self.0.write().unwrap_or_else(|e| e.into_inner()).replace(g)
    }

    pub fn take(&self) -> Option<Arc<Generation>> {
        self.0.write().unwrap_or_else(|e| e.into_inner()).take()
    }
}

pub(crate) struct Supervisor {
    pub shared: Arc<Shared>,
    pub listener: TcpListener,
    pub notices: Receiver<Notice>,
    pub probe_every: Duration,
}

/// Where the probe connects: the bound address, or loopback for a wildcard.
fn probe_target(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

/// A GET to ourselves: `true` if a worker answered it.
fn probe(addr: SocketAddr, timeout: Duration) -> bool {
    let attempt = || -> std::io::Result<bool> {
        let mut s = TcpStream::connect_timeout(&addr, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        write!(
            s,
            "GET {PROBE_PATH} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n"
        )?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.") && &head[9..12] == b"200")
    };
    attempt().unwrap_or(false)
}

/// How often the supervisor nudges tiny_http's connection pool.
const NUDGE_EVERY: Duration = Duration::from_millis(100);

/// Connects to ourselves and closes at once (see the module docs).
fn nudge(addr: SocketAddr) {
    let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
}

impl Supervisor {
    /// Stops listening at once: new connections are refused, and tiny_http's
    /// accept thread wakes up and ends (Linux; elsewhere the socket closes
    /// when that thread ends).
    fn close_listener(&self) {
        let _ = socket2::SockRef::from(&self.listener).shutdown(std::net::Shutdown::Both);
    }

    pub fn run(self) {
        self.serve();
        self.close_listener();
    }

    fn serve(&self) {
        let target = probe_target(self.shared.local_addr);
        let timeout = Duration::from_secs(2);
        let mut failures = 0;
        let mut next_probe = Instant::now() + self.probe_every;
        loop {
            match self.notices.recv_timeout(NUDGE_EVERY) {
                Ok(Notice::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Notice::Dead(id)) => {
                    if self.shared.current.get().is_some_and(|g| g.id == id) {
                        self.rebuild("accept loop reported an error");
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.shared.stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    nudge(target);
                    if Instant::now() < next_probe {
                        continue;
                    }
                    next_probe = Instant::now() + self.probe_every;
                    // Only judge when some worker is free to answer.
                    let busy = self.shared.busy.load(Ordering::SeqCst);
                    if probe(target, timeout) || busy >= self.shared.config.workers {
                        failures = 0;
                    } else {
                        failures += 1;
                        if failures >= 2 {
                            failures = 0;
                            self.rebuild("health probe got no answer");
                        }
                    }
                }
            }
        }
    }

    /// Starts a new generation, retrying with backoff while descriptors are
    /// short; the old one keeps a lingering worker if it served anyone.
    fn rebuild(&self, why: &str) {
        let shared = &self.shared;
        let mut delay = Duration::from_millis(20);
        loop {
            if shared.stopping.load(Ordering::SeqCst) {
                return;
            }
            let Some(next_id) = shared.current.get().map(|g| g.id + 1) else {
                return;
            };
            match Generation::start(next_id, &self.listener) {
                Ok(fresh) => {
                    let Some(old) = shared.current.replace(fresh) else {
                        return;
                    };
                    old.dead.store(true, Ordering::SeqCst);
                    bump(&shared.counters.accept_restarts);
                    log::warn!("restarted the HTTP accept loop ({why})");
                    if old.served.load(Ordering::SeqCst) > 0 {
                        let worker = Worker::new(shared.clone());
                        let spawned = std::thread::Builder::new()
                            .name(format!("viewtron-linger-{}", old.id))
                            .spawn(move || worker.linger(old));
                        if let Err(e) = spawned {
                            log::error!("cannot start a lingering worker: {e}");
                        }
                    }
                    return;
                }
                Err(e) => {
                    if shared.refusal_log.allow().is_some() {
                        log::error!("cannot restart the HTTP accept loop yet: {e}");
                    }
                    match self.notices.recv_timeout(delay) {
                        Ok(Notice::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                        _ => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
}

/// How long a dead generation's lingering worker waits for another request
/// before it retires: by then the read timeout has closed idle connections.
pub(crate) fn retire_after(read_timeout: Duration) -> Duration {
    read_timeout + Duration::from_secs(5)
}

/// Tracks idleness for a lingering worker.
pub(crate) struct Idle(Instant);

impl Idle {
    pub fn new() -> Idle {
        Idle(Instant::now())
    }
    pub fn reset(&mut self) {
        self.0 = Instant::now();
    }
    pub fn longer_than(&self, d: Duration) -> bool {
        self.0.elapsed() > d
    }
}
