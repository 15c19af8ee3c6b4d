//! Keeps tiny_http's accept loop alive, and serves bursts of new
//! connections at once.
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
//! and probes (see [`doorbell`]) that no connection task
//! answers. The supervisor sleeps until a connection arrives or a message
//! comes; after arrivals, and when a worker reports the first request of a
//! connection that arrived unseen (see [`newcomers`](super::newcomers)), it
//! flushes tiny_http's connection pool so that no new connection stays
//! queued behind busy threads.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::doorbell::{self, Census, FlushError, Ring};
use super::generation::Generation;
use super::notices::{Inbox, Notice};
use super::state::State;
use super::worker;

pub(crate) struct Supervisor {
    pub state: Arc<State>,
    pub inbox: Inbox,
}

/// Where probes connect: the bound address, or loopback for a wildcard.
fn probe_target(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

/// After arrivals, how long the supervisor lets more of a burst arrive
/// before it flushes the pool once for all of them.
const GATHER: Duration = Duration::from_millis(1);

/// The least time between two flushes when the last one found nothing
/// queued: under a stream of short connections (one post each) the pool
/// frees threads by itself, and flushing after each would only add probes.
const CALM_SPACING: Duration = Duration::from_millis(10);

/// After a flush that released queued connections, another one this much
/// later makes sure none arrived too close behind it.
const RECHECK_AFTER: Duration = Duration::from_millis(50);

/// The longest a connection can stay queued in tiny_http's pool when
/// neither doorbell rang: `poll(2)` missed its arrival (tiny_http's accept
/// thread took it first; see [`doorbell`]) and the
/// connection served ahead of it sent no request, so no worker reported a
/// newcomer. Before either bound, such waits lasted until the next probe
/// (measured: 3 of 30 runs of five keep-alive connections left one
/// unanswered, 50 s by the default read timeout). One flush a second bounds
/// that wait; an idle flush is one probe connection, answered by tiny_http
/// and reset.
const SWEEP: Duration = Duration::from_secs(1);

/// The most probes in one flush (the pool never needs more than the
/// connections of one burst); arrivals after it start another.
const PROBE_LIMIT: usize = 4096;

impl Supervisor {
    /// Runs until shutdown begins (which also shuts the listening socket
    /// down: see [`run`](super::run), step 1).
    pub fn run(self) {
        self.serve();
    }

    fn serve(&self) {
        let target = probe_target(self.state.local_addr);
        // A probe at least this often keeps tiny_http's accept() from
        // reaching the listener's receive timeout (the read timeout), and
        // catches what neither doorbell rang for (see [`SWEEP`]).
        let keepalive =
            (self.state.settings.read_timeout / 3).clamp(Duration::from_millis(300), SWEEP);
        let mut last_probe = Instant::now();
        // When the last flush began: it covers every connection accepted
        // before. None yet: connections may have been accepted (and their
        // first requests taken) before this thread ran.
        let mut flush_began: Option<Instant> = None;
        let mut last_forget = Instant::now();
        let mut calm_until = Instant::now();
        let mut recheck: Option<Instant> = None;
        let mut census = Census::take();
        loop {
            let now = Instant::now();
            let due = recheck.map_or(last_probe + keepalive, |r| r.min(last_probe + keepalive));
            let ring = doorbell::wait(
                &self.state.listener,
                self.inbox.wake(),
                due.saturating_duration_since(now),
            );
            if self.state.stopping.load(Ordering::SeqCst) {
                return;
            }
            match ring {
                Ring::Wake => {
                    while let Some(notice) = self.inbox.next() {
                        match notice {
                            Notice::Stop => return,
                            Notice::Dead(id) => {
                                if self.state.current.get().is_some_and(|g| g.id == id) {
                                    self.rebuild("accept loop reported an error");
                                }
                            }
                            Notice::Newcomer => {}
                        }
                    }
                    // A connection's first request arrived after the last
                    // flush began: it may have been accepted unseen, with
                    // others queued behind it (see `newcomers`).
                    let unseen = match (self.state.newcomers.take(), flush_began) {
                        (Some(first), Some(began)) => first >= began,
                        (Some(_), None) => true,
                        (None, _) => false,
                    };
                    if !unseen {
                        continue;
                    }
                    std::thread::sleep(calm_until.saturating_duration_since(now));
                }
                Ring::Arrival => {
                    // Let the rest of a burst arrive, and the accept thread
                    // take it, then flush once for all of it.
                    std::thread::sleep(GATHER.max(calm_until.saturating_duration_since(now)));
                }
                Ring::Quiet if recheck.is_some_and(|r| r <= now) => {}
                Ring::Quiet if now < last_probe + keepalive => continue,
                Ring::Quiet => {}
            }
            recheck = None;
            // Taken before the flush begins, these first requests are
            // covered by it; later ones ring again.
            self.state.newcomers.take();
            last_probe = Instant::now();
            flush_began = Some(last_probe);
            if last_probe >= last_forget + SWEEP {
                let idle = self.state.settings.read_timeout + Duration::from_secs(5);
                self.state.newcomers.forget(idle);
                last_forget = last_probe;
            }
            let stopping = || self.state.stopping.load(Ordering::SeqCst);
            let flushed = doorbell::flush(
                &self.state.listener,
                target,
                PROBE_LIMIT,
                &census,
                &stopping,
            );
            // Connections accepted from now on are counted against this.
            census = Census::take();
            match flushed {
                Ok(flush) => {
                    log::trace!("pool flushed with {} probe(s)", flush.probes);
                    if flush.probes <= 2 && flush.settled {
                        calm_until = Instant::now() + CALM_SPACING;
                    } else {
                        recheck = Some(Instant::now() + RECHECK_AFTER);
                    }
                }
                Err(FlushError::Unanswered) => self.rebuild("probes got no answer"),
                Err(FlushError::Io(e)) => {
                    // Out of descriptors, or the port is gone: try again later.
                    log::debug!("cannot probe {target}: {e}");
                    recheck = Some(Instant::now() + Duration::from_secs(1));
                }
            }
        }
    }

    /// Starts a new generation, retrying with backoff while descriptors are
    /// short; the old one keeps a lingering worker if it served anyone.
    fn rebuild(&self, why: &str) {
        let shared = &self.state;
        let mut delay = Duration::from_millis(20);
        loop {
            if shared.stopping.load(Ordering::SeqCst) {
                return;
            }
            let Some(next_id) = shared.current.get().map(|g| g.id + 1) else {
                return;
            };
            match Generation::start(next_id, &self.state.listener) {
                Ok(fresh) => {
                    let Some(old) = shared.current.replace(fresh) else {
                        return;
                    };
                    old.dead.store(true, Ordering::SeqCst);
                    shared.counters.restart();
                    log::warn!("restarted the HTTP accept loop ({why})");
                    if old.served.load(Ordering::SeqCst) > 0 {
                        worker::linger(shared, old);
                    }
                    return;
                }
                Err(e) => {
                    if shared.log.allow().is_some() {
                        log::error!("cannot restart the HTTP accept loop yet: {e}");
                    }
                    if doorbell::sleep(self.inbox.wake(), delay)
                        && matches!(self.inbox.next(), Some(Notice::Stop))
                    {
                        return;
                    }
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
}
