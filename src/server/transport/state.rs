//! The state of one running transport, shared by its workers, its
//! supervisor, its watch and the server's handles. How it is taken down is
//! written in [`run`](super::run).

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::closing::Closer;
use super::counters::Counters;
use super::exchange::Hire;
use super::generation::Current;
use super::newcomers::Newcomers;
use super::notices::Notices;
use super::watch::Watch;
use crate::server::guard::LogLimiter;

/// What the transport is told by the server's configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// Workers to keep free for new requests.
    pub workers: usize,
    /// The most workers there may be, spares included (at least `workers`).
    pub max_workers: usize,
    /// How long a connection may stay silent (tiny_http's only timeout).
    pub read_timeout: Duration,
}

pub(crate) struct State {
    pub settings: Settings,
    /// The listening socket. Every generation's tiny_http server accepts on
    /// a duplicate of it; shutting it down (not dropping it) is what stops
    /// every generation accepting at once.
    pub listener: TcpListener,
    pub local_addr: SocketAddr,
    /// Set once, by the first stop, and never cleared: from then on no
    /// worker takes a request from a blocking `recv` again, and the
    /// supervisor starts no generation.
    pub stopping: AtomicBool,
    /// Pool workers still running, spares included (lingering workers are
    /// not counted). Only the worker that takes it from 1 to 0 runs the end
    /// of the shutdown sequence, so it runs exactly once. A spare counts
    /// from just before its thread starts.
    pub live_workers: AtomicUsize,
    /// The generation accepting connections now; `None` once the last pool
    /// worker has drained it, never `Some` again after that.
    pub current: Current,
    /// Messages to the supervisor (and its wake-up).
    pub notices: Notices,
    /// Ends connections after refusals, and knows which it ended; shared
    /// with the threads that finish refused requests.
    pub closer: Arc<Closer>,
    /// Connections whose first request was taken (the supervisor's second
    /// doorbell).
    pub newcomers: Newcomers,
    /// Bodies in progress: their deadlines, and spare workers while some
    /// are held.
    pub watch: Watch,
    pub counters: Arc<Counters>,
    /// Rate limit for the transport's error lines.
    pub log: LogLimiter,
    /// Makes each worker's request handler.
    pub hire: Hire,
    /// Set, and notified, when the last pool worker has finished.
    pub stopped: Stopped,
}

/// Whether the last pool worker has left (the end of the shutdown sequence).
#[derive(Default)]
pub(crate) struct Stopped {
    /// `true` once set; never cleared.
    done: Mutex<bool>,
    changed: Condvar,
}

impl Stopped {
    /// Marks the last pool worker gone and wakes every waiter.
    pub fn set(&self) {
        *self.done.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.changed.notify_all();
    }

    /// Blocks until the last pool worker has left.
    pub fn wait(&self) {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        while !*done {
            done = self.changed.wait(done).unwrap_or_else(|e| e.into_inner());
        }
    }
}
