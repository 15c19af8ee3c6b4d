//! The tiny_http servers the supervisor starts, one generation after
//! another, over duplicates of the one listening socket (see
//! [`supervisor`](super::supervisor) for why a generation dies and is
//! replaced), and which of them accepts now.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// One tiny_http server over a duplicate of the listening socket.
pub(crate) struct Generation {
    /// 0 for the first; each replacement takes the next number, so a
    /// report about an older generation can be told from one about the
    /// current one.
    pub id: u64,
    /// Its requests queue; its accept thread owns a duplicate of the
    /// listening socket, which dropping this closes.
    pub http: tiny_http::Server,
    /// Requests taken from this generation; only grows. A dead generation
    /// that served nobody has no connection to keep serving, so it gets no
    /// lingering worker.
    pub served: AtomicU64,
    /// Set once when its accept loop is known dead (never cleared), so the
    /// death is reported to the supervisor once.
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

/// The currently accepting generation: replaced only by the supervisor
/// (a rebuild), taken only by the last pool worker at shutdown; `None` from
/// then on, never `Some` again.
pub(crate) struct Current(RwLock<Option<Arc<Generation>>>);

impl Current {
    pub fn new(g: Arc<Generation>) -> Current {
        Current(RwLock::new(Some(g)))
    }

    pub fn get(&self) -> Option<Arc<Generation>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn replace(&self, g: Arc<Generation>) -> Option<Arc<Generation>> {
        self.0.write().unwrap_or_else(|e| e.into_inner()).replace(g)
    }

    pub fn take(&self) -> Option<Arc<Generation>> {
        self.0.write().unwrap_or_else(|e| e.into_inner()).take()
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
