//! Starting and stopping the transport: the listening socket, the first
//! generation, the supervisor, the watch and the worker threads; and the
//! shutdown sequence, in order, in one place.
//!
//! [`Stopper::stop`] runs on the thread that asks;
//! the last pool worker to leave finishes the sequence (`worker`'s
//! `Leaving`); [`Transport::wait`] blocks until then.
//!
//! 1. **Stop accepting** ([`begin`]): `stopping` is set and the listening
//!    socket is shut down, so new connections are refused from this moment,
//!    tiny_http's accept thread ends, and a pool flush of the supervisor in
//!    progress fails its next probe at once instead of waiting for an
//!    answer no one will give.
//! 2. **End the channel's root**: done by the server before it calls
//!    [`begin`] (the pipeline drops its own events sender), so that only
//!    the workers' handlers keep `events()` open.
//! 3. **Wake the supervisor** ([`begin`]): it returns from its `poll`.
//! 4. **Wake the workers** ([`begin`]): one wake-up per live worker (spares
//!    included) on the current generation's queue; each worker finishes the
//!    request in its hands, sees `stopping` and leaves. The watch thread
//!    (bodies' deadlines, spare workers) is told to end too: it starts no
//!    spare from now on, and [`Transport::wait`] joins it with the
//!    supervisor.
//! 5. **Drain** (last worker out): requests tiny_http had already queued
//!    are answered and delivered, as promised.
//! 6. **Drop the generation** (last worker out): tiny_http's server, its
//!    queue and its duplicate of the listening socket go.
//! 7. **End `events()`** (each worker dropping its handler, and the
//!    handler's events sender, as it leaves; the last one after the drain):
//!    the iterator ends once drained.
//! 8. **Tell `wait()`** (last worker out); [`Transport::wait`] then joins
//!    the supervisor, which has already returned (step 3), and the watch
//!    thread (step 4).
//!
//! Connections that are still open stay open (tiny_http keeps no handle to
//! close them); posts sent on them afterwards get no answer.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::closing::Closer;
use super::counters::Counters;
use super::exchange::Hire;
use super::generation::{Current, Generation};
use super::listener;
use super::newcomers::Newcomers;
use super::notices::{self, Notice};
use super::state::{Settings, State, Stopped};
use super::supervisor::Supervisor;
use super::watch::Watch;
use super::worker::{Worker, Workforce};
use crate::server::config::BuildError;
use crate::server::stats::{Protections, TransportStats};

/// A bound listening socket, not yet served: what the pipeline needs to
/// know of the transport ([`report`](Bound::report)) before it starts.
pub(crate) struct Bound {
    settings: Settings,
    listener: TcpListener,
    local_addr: SocketAddr,
    first: Arc<Generation>,
    closer: Arc<Closer>,
    counters: Arc<Counters>,
}

impl Bound {
    /// Binds `ip:port` and starts the first tiny_http server on it.
    pub fn bind(ip: IpAddr, port: u16, settings: Settings) -> Result<Bound, BuildError> {
        let listener = listener::listen(ip, port, settings.read_timeout)?;
        let bind_error = |source| BuildError::Bind {
            addr: SocketAddr::new(ip, port),
            source,
        };
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let first = Generation::start(0, &listener).map_err(bind_error)?;
        // A closed connection's peer is remembered as long as tiny_http may
        // keep that connection open without traffic.
        let closer = Closer::new(&listener, settings.read_timeout + Duration::from_secs(5));
        Ok(Bound {
            settings,
            listener,
            local_addr,
            first,
            closer: Arc::new(closer),
            counters: Arc::default(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The transport's counters and protections, readable while it runs.
    pub fn report(&self) -> Report {
        Report {
            counters: self.counters.clone(),
            reaches_sockets: self.closer.reaches_sockets(),
        }
    }

    /// Starts the supervisor, the watch and `settings.workers` workers,
    /// each with a handler from `hire`. On failure, whatever started is
    /// stopped again.
    pub fn start(self, hire: Hire) -> Result<Transport, BuildError> {
        let (notices, inbox) = notices::notices().map_err(BuildError::Spawn)?;
        let state = Arc::new(State {
            settings: self.settings,
            listener: self.listener,
            local_addr: self.local_addr,
            stopping: AtomicBool::new(false),
            live_workers: AtomicUsize::new(self.settings.workers),
            current: Current::new(self.first),
            notices,
            closer: self.closer,
            newcomers: Newcomers::default(),
            watch: Watch::default(),
            counters: self.counters,
            log: Default::default(),
            hire,
            stopped: Stopped::default(),
        });
        let spawn = |name: String, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name)
                .spawn(f)
                .map_err(|e| {
                    begin(&state);
                    BuildError::Spawn(e)
                })
        };
        let supervisor = Supervisor {
            state: state.clone(),
            inbox,
        };
        let supervisor = spawn(
            "viewtron-supervisor".into(),
            Box::new(move || supervisor.run()),
        )?;
        let workforce = Workforce(state.clone());
        let watch = spawn(
            "viewtron-watch".into(),
            Box::new(move || workforce.0.watch.run(&workforce)),
        )?;
        let mut workers = Vec::with_capacity(state.settings.workers);
        for i in 0..state.settings.workers {
            // Made here, not on its thread: a worker whose thread starts
            // after a shutdown began still has its handler (and sender).
            let worker = Worker::new(state.clone());
            workers.push(spawn(
                format!("viewtron-worker-{i}"),
                Box::new(move || worker.run()),
            )?);
        }
        Ok(Transport {
            state,
            workers: Mutex::new(workers),
            supervisor: Mutex::new(Some(supervisor)),
            watch: Mutex::new(Some(watch)),
        })
    }
}

/// The transport's counters, for `Stats`.
#[derive(Clone)]
pub(crate) struct Report {
    counters: Arc<Counters>,
    reaches_sockets: bool,
}

impl Report {
    /// The transport's section of `Stats`. Every protection needs the
    /// server to reach connections' sockets.
    pub fn stats(&self) -> TransportStats {
        TransportStats {
            parked: self.counters.parked(),
            accept_restarts: self.counters.accept_restarts(),
            protections: Protections {
                close_refused: self.reaches_sockets,
                cut_stalled_bodies: self.reaches_sockets,
            },
        }
    }

    /// Requests discarded from connections a refusal closed.
    pub fn discarded(&self) -> u64 {
        self.counters.discarded()
    }
}

/// A running transport.
pub(crate) struct Transport {
    state: Arc<State>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    /// Holds the original listening socket until it exits.
    supervisor: Mutex<Option<JoinHandle<()>>>,
    /// Watches bodies in progress (see `watch`).
    watch: Mutex<Option<JoinHandle<()>>>,
}

impl Transport {
    /// Workers started (spares not included).
    pub fn workers(&self) -> usize {
        self.state.settings.workers
    }

    /// A cloneable handle that stops the transport.
    pub fn stopper(&self) -> Stopper {
        Stopper(self.state.clone())
    }

    /// Blocks until the transport has stopped and every received request
    /// has been handled.
    pub fn wait(&self) {
        let handles = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
        for handle in handles {
            if handle.join().is_err() {
                log::error!("a worker thread panicked");
            }
        }
        // Another thread may be joining them: wait for the last one anyway.
        self.state.stopped.wait();
        for (what, thread) in [("supervisor", &self.supervisor), ("watch", &self.watch)] {
            let handle = thread.lock().unwrap_or_else(|e| e.into_inner()).take();
            if handle.is_some_and(|h| h.join().is_err()) {
                log::error!("the {what} thread panicked");
            }
        }
    }
}

/// Stops a [`Transport`] from any thread.
#[derive(Clone)]
pub(crate) struct Stopper(Arc<State>);

impl Stopper {
    /// Steps 1, 3 and 4 of the sequence. Idempotent.
    pub fn stop(&self) {
        begin(&self.0);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.stopping.load(Ordering::SeqCst)
    }
}

/// Steps 1, 3 and 4. Idempotent: only the first call does anything.
fn begin(state: &State) {
    if state.stopping.swap(true, Ordering::SeqCst) {
        return;
    }
    log::debug!("shutting down");
    // 1. Shut down, not closed: the descriptor stays valid for whoever still
    // holds it, but the socket accepts nothing more (Linux; elsewhere it
    // closes when the last duplicate does).
    let _ = socket2::SockRef::from(&state.listener).shutdown(std::net::Shutdown::Both);
    // 3.
    let _ = state.notices.send(Notice::Stop);
    // 4.
    state.watch.stop();
    if let Some(current) = state.current.get() {
        for _ in 0..state.live_workers.load(Ordering::SeqCst) {
            current.http.unblock();
        }
    }
}
