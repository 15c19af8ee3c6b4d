//! The worker threads: each takes requests from the current generation's
//! queue and hands them to its [`Handler`]; spares are started by the watch
//! while bodies hold others ([`Workforce`]); a dead generation keeps a
//! lingering worker for the connections it still has.
//!
//! A request from a connection a refusal has closed (what a smuggler hides
//! behind refused framing) never reaches the handler: it is discarded here.

use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tiny_http::Request;

use super::closing;
use super::exchange::{Exchange, Handler};
use super::generation::{retire_after, Generation, Idle};
use super::notices::Notice;
use super::state::State;
use super::watch::Workers;
use crate::limits::MAX_DRAIN_BYTES;

/// How often idle workers look at the shutdown flag and the current generation.
const POLL: Duration = Duration::from_millis(200);

/// How long a spare worker (one started while others were held by slow
/// bodies) stays idle before it ends, when it is no longer needed.
const RETIRE_SPARE: Duration = Duration::from_secs(5);

pub(crate) struct Worker {
    state: Arc<State>,
    handler: Handler,
    /// Started by the watch while others were held: ends when idle and no
    /// longer needed.
    spare: bool,
}

impl Worker {
    pub fn new(state: Arc<State>) -> Worker {
        let handler = (state.hire)();
        Worker {
            state,
            handler,
            spare: false,
        }
    }

    /// A pool worker: serves whichever generation is current.
    pub fn run(mut self) {
        let state = self.state.clone();
        let leaving = Leaving { worker: &mut self };
        let mut idle = Idle::new();
        while !state.stopping.load(Ordering::SeqCst) {
            let Some(generation) = state.current.get() else {
                break;
            };
            match generation.http.recv_timeout(POLL) {
                Ok(Some(request)) => {
                    leaving.worker.take(&generation, request);
                    idle.reset();
                }
                Ok(None) => {
                    let needed = state.settings.workers + state.watch.stuck();
                    if leaving.worker.spare
                        && idle.longer_than(RETIRE_SPARE)
                        && state.live_workers.load(Ordering::SeqCst) > needed
                    {
                        break;
                    }
                }
                Err(e) => {
                    if !state.stopping.load(Ordering::SeqCst)
                        && !generation.dead.swap(true, Ordering::SeqCst)
                    {
                        log::error!("the HTTP accept loop stopped: {e}");
                        let _ = state.notices.send(Notice::Dead(generation.id));
                    }
                }
            }
        }
        drop(leaving);
    }

    /// Serves a dead generation's remaining connections until they go quiet.
    pub fn linger(mut self, generation: Arc<Generation>) {
        let retire = retire_after(self.state.settings.read_timeout);
        let mut idle = Idle::new();
        loop {
            if self.state.stopping.load(Ordering::SeqCst) {
                self.drain(&generation);
                return;
            }
            match generation.http.recv_timeout(POLL) {
                Ok(Some(request)) => {
                    idle.reset();
                    self.take(&generation, request);
                }
                _ if idle.longer_than(retire) => {
                    log::debug!("generation {} retired", generation.id);
                    return;
                }
                _ => {}
            }
        }
    }

    /// Answers queued requests, skipping the other workers' wake-ups.
    fn drain(&mut self, generation: &Generation) {
        let mut misses = 0;
        while misses <= self.state.settings.workers {
            match generation.http.try_recv() {
                Ok(Some(request)) => self.take(generation, request),
                _ => misses += 1,
            }
        }
    }

    fn take(&mut self, generation: &Generation, request: Request) {
        generation.served.fetch_add(1, Ordering::Relaxed);
        let state = &*self.state;
        let peer = request.remote_addr().copied();
        if let Some(peer) = peer {
            if state.newcomers.request(peer) {
                let _ = state.notices.send(Notice::Newcomer);
            }
            if state.closer.is_condemned(peer) {
                return discard(state, request);
            }
        }
        (self.handler)(Exchange::new(
            request,
            &state.closer,
            &state.watch,
            &state.counters,
        ));
    }
}

/// Drops a request from a condemned connection: no answer, no delivery.
/// Its socket was shut when the connection was condemned (when it could be
/// reached), so the drain meets EOF at once; otherwise it runs where it
/// cannot hold a worker.
fn discard(state: &State, request: Request) {
    state.counters.discard();
    let declared = closing::declared(&request);
    if !closing::releasable(declared) {
        state.counters.park();
        std::mem::forget(request);
    } else if declared <= MAX_DRAIN_BYTES {
        drop(request.into_writer());
    } else {
        closing::elsewhere(request, |request| drop(request.into_writer()));
    }
}

/// The end of the shutdown sequence, run when dropped by the last pool
/// worker to leave (also by panic): drain what tiny_http had already
/// queued, drop the generation, tell `wait()` (steps 5, 6 and 8 in
/// [`run`](super::run)). Each worker's handler goes with it (step 7).
struct Leaving<'w> {
    worker: &'w mut Worker,
}

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        let state = self.worker.state.clone();
        if state.live_workers.fetch_sub(1, Ordering::SeqCst) != 1 {
            return;
        }
        // Taking the generation out of `current` means no one can reach it
        // any more: once drained, dropping it is final.
        if let Some(generation) = state.current.take() {
            if !std::thread::panicking() {
                self.worker.drain(&generation);
            }
        }
        state.stopped.set();
    }
}

/// Starts a worker for a dead generation's remaining connections.
pub(crate) fn linger(state: &Arc<State>, old: Arc<Generation>) {
    let worker = Worker::new(state.clone());
    let spawned = std::thread::Builder::new()
        .name(format!("viewtron-linger-{}", old.id))
        .spawn(move || worker.linger(old));
    if let Err(e) = spawned {
        log::error!("cannot start a lingering worker: {e}");
    }
}

/// The pool as the watch sees it: how many workers there are, how many to
/// keep free, starting a spare, and cutting a connection at its body's
/// deadline.
pub(crate) struct Workforce(pub Arc<State>);

impl Workers for Workforce {
    fn live(&self) -> usize {
        self.0.live_workers.load(Ordering::SeqCst)
    }

    fn wanted(&self) -> usize {
        self.0.settings.workers
    }

    fn cap(&self) -> usize {
        self.0.settings.max_workers.max(self.0.settings.workers)
    }

    fn spawn(&self) -> bool {
        let state = &self.0;
        if state.stopping.load(Ordering::SeqCst) {
            return false;
        }
        state.live_workers.fetch_add(1, Ordering::SeqCst);
        let worker = Worker {
            spare: true,
            ..Worker::new(state.clone())
        };
        let spawned = std::thread::Builder::new()
            .name("viewtron-worker-spare".into())
            .spawn(move || worker.run());
        match spawned {
            Ok(_) => true,
            Err(e) => {
                state.live_workers.fetch_sub(1, Ordering::SeqCst);
                if state.log.allow().is_some() {
                    log::error!("cannot start a spare worker: {e}");
                }
                false
            }
        }
    }

    fn cut(&self, peer: SocketAddr) -> bool {
        self.0
            .closer
            .socket(peer)
            .is_some_and(|socket| socket.shutdown(Shutdown::Read).is_ok())
    }
}
