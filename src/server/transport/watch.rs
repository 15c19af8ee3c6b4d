//! Keeping the answer path free: bodies in progress, their deadline, and
//! spare workers while some are held.
//!
//! A worker reading a body depends on its client. A client that trickles a
//! byte now and then makes each read return soon, so the worker checks the
//! body's deadline between reads ([`Deadline`]). A client that sends nothing
//! blocks a read until the connection's read timeout (tiny_http hands over
//! no socket to set a shorter one). Two things keep such clients from
//! deafening the server:
//!
//! - **Spare workers.** The watch thread looks at the bodies in progress
//!   every [`TICK`]. While any body has taken longer than [`STUCK_AFTER`],
//!   it keeps the configured number of workers free beyond those reading
//!   bodies, starting workers up to the cap. Extra workers end once they
//!   have been idle for a while and are no longer needed. Under plain load
//!   (every body read in microseconds) nothing is ever started.
//! - **Cutting a connection at its deadline.** When a body's deadline passes
//!   while its worker is still in a read, the watch asks the server to shut
//!   the connection's reading side ([`Workers::cut`]): the read returns at
//!   once and the worker answers `408`. Where the server cannot reach the
//!   socket, the read returns at the read timeout instead.
//!
//! While bodies come and go, the watch ticks; once none has started for
//! [`QUIET`] it sleeps until the next one wakes it. So an idle server wakes
//! it never, and a busy one never pays a wake-up per request.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How often the watch looks at the bodies in progress.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// A body read taking longer than this holds its worker: the watch starts
/// spares. Camera posts arrive in a few milliseconds on a LAN.
pub(crate) const STUCK_AFTER: Duration = Duration::from_millis(50);

/// With no body started for this long, the watch sleeps until one is.
const QUIET: Duration = Duration::from_secs(1);

/// What the watch needs from the server (implemented by the worker pool, so
/// that this module depends on nothing of it).
pub(crate) trait Workers {
    /// Pool workers running now.
    fn live(&self) -> usize;
    /// Workers to keep free for new requests (the configured pool size).
    fn wanted(&self) -> usize;
    /// The most workers there may be.
    fn cap(&self) -> usize;
    /// Starts one more worker; `false` if it could not.
    fn spawn(&self) -> bool;
    /// Shuts the reading side of the connection with `peer`; `false` when
    /// its socket cannot be reached.
    fn cut(&self, peer: SocketAddr) -> bool;
}

#[derive(Debug)]
struct Entry {
    started: Instant,
    deadline: Instant,
    peer: Option<SocketAddr>,
    cut: bool,
}

#[derive(Debug)]
struct State {
    next: u64,
    bodies: HashMap<u64, Entry>,
    /// When the latest body started.
    last: Instant,
    /// The watch waits for a body to start (nobody else wakes it).
    sleeping: bool,
    stopping: bool,
}

impl Default for State {
    fn default() -> State {
        State {
            next: 0,
            bodies: HashMap::new(),
            last: Instant::now(),
            sleeping: false,
            stopping: false,
        }
    }
}

/// The bodies in progress, shared by the workers and the watch thread.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    state: Mutex<State>,
    wake: Condvar,
    /// Bodies in progress longer than [`STUCK_AFTER`], as of the last tick.
    stuck: AtomicUsize,
}

/// A body being read; dropping it ends the watch on it.
#[derive(Debug)]
pub(crate) struct Reading<'a> {
    watch: &'a Watch,
    id: u64,
}

impl Watch {
    /// Watches a body read from `peer` until the returned guard is dropped;
    /// at `deadline` the connection is cut.
    pub fn reading(&self, peer: Option<SocketAddr>, deadline: Instant) -> Reading<'_> {
        let started = Instant::now();
        let mut state = self.lock();
        let id = state.next;
        state.next += 1;
        state.last = started;
        state.bodies.insert(
            id,
            Entry {
                started,
                deadline,
                peer,
                cut: false,
            },
        );
        let sleeping = state.sleeping;
        drop(state);
        if sleeping {
            self.wake.notify_all();
        }
        Reading { watch: self, id }
    }

    /// Bodies held longer than [`STUCK_AFTER`] at the last tick.
    pub fn stuck(&self) -> usize {
        self.stuck.load(Ordering::SeqCst)
    }

    /// Ends [`run`](Self::run).
    pub fn stop(&self) {
        self.lock().stopping = true;
        self.wake.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The watch thread: returns after [`stop`](Self::stop).
    pub fn run(&self, workers: &dyn Workers) {
        loop {
            let mut state = self.lock();
            if state.stopping {
                return;
            }
            if state.bodies.is_empty() {
                self.stuck.store(0, Ordering::SeqCst);
                if state.last.elapsed() >= QUIET {
                    state.sleeping = true;
                    while state.bodies.is_empty() && !state.stopping {
                        state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
                    }
                    state.sleeping = false;
                } else {
                    drop(self.wake.wait_timeout(state, TICK));
                }
                continue;
            }
            let now = Instant::now();
            let reading = state.bodies.len();
            let mut stuck = 0;
            let mut overdue = Vec::new();
            for entry in state.bodies.values_mut() {
                if now.duration_since(entry.started) >= STUCK_AFTER {
                    stuck += 1;
                }
                if now >= entry.deadline && !entry.cut {
                    entry.cut = true;
                    overdue.extend(entry.peer);
                }
            }
            drop(state);
            self.stuck.store(stuck, Ordering::SeqCst);
            for peer in overdue {
                if !workers.cut(peer) {
                    log::debug!(
                        "cannot cut {peer} at its body deadline: it ends at the read timeout"
                    );
                }
            }
            if stuck > 0 {
                let target = (reading + workers.wanted()).min(workers.cap());
                for _ in workers.live()..target {
                    if !workers.spawn() {
                        break;
                    }
                }
            }
            let state = self.lock();
            if !state.stopping {
                drop(self.wake.wait_timeout(state, TICK));
            }
        }
    }
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        self.watch.lock().bodies.remove(&self.id);
    }
}

/// A reader that fails with [`io::ErrorKind::TimedOut`] once `deadline` has
/// passed, checked before every read. A client trickling its body makes
/// every read return soon, so it meets the deadline within one of its pauses.
pub(crate) struct Deadline<R> {
    inner: R,
    deadline: Instant,
}

impl<R: Read> Deadline<R> {
    pub fn new(inner: R, deadline: Instant) -> Deadline<R> {
        Deadline { inner, deadline }
    }
}

impl<R: Read> Read for Deadline<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if Instant::now() >= self.deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "body deadline passed",
            ));
        }
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    #[test]
    fn a_deadline_stops_a_trickling_reader() {
        struct Trickle;
        impl Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                std::thread::sleep(Duration::from_millis(5));
                buf[0] = b'a';
                Ok(1)
            }
        }
        let start = Instant::now();
        let mut reader = Deadline::new(Trickle, start + Duration::from_millis(50));
        let mut body = [0u8; 1000];
        let err = reader.read_exact(&mut body).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(50) && took < Duration::from_secs(5));
    }

    #[derive(Default)]
    struct Pool {
        live: AtomicUsize,
        cuts: Mutex<Vec<SocketAddr>>,
        stop: AtomicBool,
    }

    impl Workers for Pool {
        fn live(&self) -> usize {
            self.live.load(Ordering::SeqCst)
        }
        fn wanted(&self) -> usize {
            2
        }
        fn cap(&self) -> usize {
            5
        }
        fn spawn(&self) -> bool {
            self.live.fetch_add(1, Ordering::SeqCst);
            true
        }
        fn cut(&self, peer: SocketAddr) -> bool {
            self.cuts.lock().unwrap().push(peer);
            true
        }
    }

    #[test]
    fn held_bodies_get_spares_up_to_the_cap_and_overdue_ones_are_cut() {
        let watch = Arc::new(Watch::default());
        let pool = Arc::new(Pool::default());
        pool.live.store(2, Ordering::SeqCst);
        let thread = {
            let (watch, pool) = (watch.clone(), pool.clone());
            std::thread::spawn(move || watch.run(&*pool))
        };
        let wait_for = |what: &dyn Fn() -> bool| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while !what() && Instant::now() < deadline {
                std::thread::sleep(TICK);
            }
            what()
        };
        let peer: SocketAddr = "192.0.2.1:4000".parse().unwrap();
        let far = Instant::now() + Duration::from_secs(3600);
        // One body, held: two spares beyond it (2 wanted), so 3 workers.
        let one = watch.reading(Some(peer), far);
        assert!(wait_for(&|| pool.live() == 3), "{}", pool.live());
        // Three more held: capped at 5.
        let more: Vec<_> = (0..3).map(|_| watch.reading(None, far)).collect();
        assert!(wait_for(&|| pool.live() == 5), "{}", pool.live());
        assert!(wait_for(&|| watch.stuck() == 4));
        drop((one, more));
        assert!(wait_for(&|| watch.stuck() == 0));
        // A body past its deadline: its connection is cut, once.
        let late = watch.reading(Some(peer), Instant::now());
        assert!(wait_for(&|| !pool.cuts.lock().unwrap().is_empty()));
        std::thread::sleep(TICK * 5);
        assert_eq!(*pool.cuts.lock().unwrap(), [peer]);
        drop(late);
        pool.stop.store(true, Ordering::SeqCst);
        watch.stop();
        thread.join().unwrap();
    }
}
