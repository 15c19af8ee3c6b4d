//! The state of one running server, shared by its handle, its workers, its
//! supervisor and every `ShutdownHandle`. How it is taken down is written in
//! [`shutdown`](super::shutdown).

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex};

use crossbeam_channel::Sender;

use super::callbacks::Callbacks;
use super::closing::Closer;
use super::config::Config;
use super::generation::Current;
use super::guard::{Credentials, LogLimiter};
use super::newcomers::Newcomers;
use super::notices::Notices;
use super::per_address::PerAddress;
use super::stats::{Counters, Stats};
use super::watch::Watch;
use crate::body::Pool;
use crate::Event;

pub(crate) struct Shared {
    /// The checked settings; never change after `build`.
    pub config: Config,
    pub callbacks: Callbacks,
    pub counters: Counters,
    /// The listening socket. Every generation's tiny_http server accepts on
    /// a duplicate of it; shutting it down (not dropping it) is what stops
    /// every generation accepting at once.
    pub listener: TcpListener,
    /// Set once, by the first stop, and never cleared: from then on no
    /// worker takes a request from a blocking `recv` again, and the
    /// supervisor starts no generation.
    pub stopping: AtomicBool,
    /// Pool workers still running, spares included (lingering workers are
    /// not counted). Only the worker that takes it from 1 to 0 runs the end
    /// of the shutdown sequence, so it runs exactly once. A spare counts
    /// from just before its thread starts.
    pub live_workers: AtomicUsize,
    /// Workers inside `handle`.
    pub busy: AtomicUsize,
    /// The generation accepting connections now; `None` once the last pool
    /// worker has drained it, never `Some` again after that.
    pub current: Current,
    pub local_addr: SocketAddr,
    /// Whether events go to the channel.
    pub channel: bool,
    /// The events channel's sender: `Some` until shutdown begins. Each
    /// worker holds a clone, so `events()` ends when the last worker is done
    /// with it, after everything accepted has been sent.
    pub tx: Mutex<Option<Sender<Event>>>,
    /// Messages to the supervisor (and its wake-up).
    pub notices: Notices,
    pub refusal_log: LogLimiter,
    pub credentials: Option<Credentials>,
    /// Ends connections after refusals, and knows which it ended.
    pub closer: Closer,
    /// Requests in progress per camera address, against `max_per_address`.
    pub per_address: PerAddress,
    /// Each camera's posts delivered in the order they arrived.
    pub order: super::order::Order,
    /// Connections whose first request was taken (the supervisor's second
    /// doorbell).
    pub newcomers: Newcomers,
    /// Bodies in progress: their deadlines, and spare workers while some
    /// are held.
    pub watch: Watch,
    /// Recycled body buffers.
    pub pool: Arc<Pool>,
    /// Set, and notified, when the last pool worker has finished.
    pub stopped: Stopped,
}

impl Shared {
    /// The counters, and the requests in progress now.
    pub fn stats(&self) -> Stats {
        let mut stats = self.counters.snapshot();
        stats.in_progress = self.per_address.total() as u64;
        let reach = self.closer.reaches_sockets();
        stats.protections = super::stats::Protections {
            close_refused: reach,
            cut_stalled_bodies: reach,
        };
        stats
    }
}

/// Whether the last pool worker has left (step 8 of
/// [`shutdown`](super::shutdown)).
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
