//! What the transport counts: the work its repairs did, read into
//! `TransportStats` (and `Stats::discarded`) by the server's `stats()`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Requests read from a connection after a refusal closed it: neither
    /// answered nor delivered.
    discarded: AtomicU64,
    /// Requests kept for good (see `closing::releasable`).
    parked: AtomicU64,
    /// Accept loops rebuilt (see `supervisor`).
    accept_restarts: AtomicU64,
}

impl Counters {
    pub fn discard(&self) {
        self.discarded.fetch_add(1, Relaxed);
    }

    pub fn park(&self) {
        self.parked.fetch_add(1, Relaxed);
    }

    pub fn restart(&self) {
        self.accept_restarts.fetch_add(1, Relaxed);
    }

    pub fn discarded(&self) -> u64 {
        self.discarded.load(Relaxed)
    }

    pub fn parked(&self) -> u64 {
        self.parked.load(Relaxed)
    }

    pub fn accept_restarts(&self) -> u64 {
        self.accept_restarts.load(Relaxed)
    }
}
