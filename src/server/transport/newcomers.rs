//! The second doorbell: a worker taking the first request of a connection
//! tells the supervisor, which flushes tiny_http's pool unless a flush
//! already started after that request arrived.
//!
//! The supervisor's own doorbell, `poll(2)` on the listening socket, can
//! miss a whole burst (see [`doorbell`](super::doorbell)). A burst it missed
//! still shows up here: tiny_http queues a connection only while it counts a
//! thread as idle, and that thread, woken for the oldest queued connection,
//! serves it; that connection's first request reaches a worker, which rings.
//!
//! Connections are told apart by their peer address, remembered while the
//! connection may still be open: a peer not seen for the read timeout and
//! 5 s more (by then tiny_http has closed its idle connection) is forgotten
//! by the supervisor, at most once a second, as it begins a flush. The
//! memory is capped; beyond the cap it is cleared, which only makes known
//! connections ring once more (one more flush).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Connections remembered at most (about 1 MB); beyond, the memory is cleared.
const REMEMBERED: usize = 1 << 14;

/// The connections whose first request a worker has taken.
#[derive(Default)]
pub(crate) struct Newcomers(Mutex<State>);

#[derive(Default)]
struct State {
    /// Peer of each connection seen -> when it was last seen.
    peers: HashMap<SocketAddr, Instant>,
    /// The latest first request the supervisor has not yet taken; `Some`
    /// while a ring is on its way.
    unflushed: Option<Instant>,
}

impl Newcomers {
    /// Notes a request from `peer`; `true` when it is the first of its
    /// connection and no ring is on its way yet: the caller rings.
    pub fn request(&self, peer: SocketAddr) -> bool {
        let now = Instant::now();
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if state.peers.len() >= REMEMBERED && !state.peers.contains_key(&peer) {
            state.peers.clear();
        }
        if state.peers.insert(peer, now).is_some() {
            return false;
        }
        state.unflushed.replace(now).is_none()
    }

    /// The latest first request since the last call, if any; the next one
    /// rings again.
    pub fn take(&self) -> Option<Instant> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unflushed
            .take()
    }

    /// Forgets connections not seen for `idle` or longer: tiny_http has
    /// closed them.
    pub fn forget(&self, idle: Duration) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        state.peers.retain(|_, seen| seen.elapsed() < idle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_connections_first_request_rings_and_one_ring_at_a_time() {
        let newcomers = Newcomers::default();
        let a: SocketAddr = "127.0.0.1:40001".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:40002".parse().unwrap();
        assert!(newcomers.request(a), "a new connection rings");
        assert!(!newcomers.request(a), "its next request does not");
        assert!(!newcomers.request(b), "a ring is already on its way");
        let latest = newcomers.take().expect("a first request to flush for");
        assert!(latest >= Instant::now() - Duration::from_secs(5));
        assert_eq!(newcomers.take(), None);
        let c: SocketAddr = "127.0.0.1:40003".parse().unwrap();
        assert!(newcomers.request(c), "after the take, the next one rings");
    }

    #[test]
    fn a_forgotten_connection_rings_again() {
        let newcomers = Newcomers::default();
        let a: SocketAddr = "[::1]:40001".parse().unwrap();
        assert!(newcomers.request(a));
        newcomers.take();
        newcomers.forget(Duration::from_secs(60));
        assert!(!newcomers.request(a), "still remembered");
        newcomers.forget(Duration::ZERO);
        assert!(newcomers.request(a), "forgotten: counts as new");
    }
}
