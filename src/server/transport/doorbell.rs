//! Serving a burst of new connections at once, and nothing while idle.
//!
//! tiny_http 0.12 runs each connection's whole keep-alive life as one task of
//! its thread pool. Its `TaskPool::spawn` queues a new connection's task when
//! it counts an idle thread, and starts a new thread otherwise; but a thread
//! woken for an earlier task still counts as idle until it has run. When
//! connections arrive faster than woken threads get a core (a burst: every
//! camera coming back after a restart, a switch reboot or a Wi-Fi blip), more
//! tasks are queued than there are idle threads, and a queued task starts only
//! when another task ends or a new connection starts a thread. Keep-alive
//! cameras end nothing: their first post would wait indefinitely.
//!
//! Every new connection that finds no idle thread starts one, which takes the
//! oldest queued task once its own has ended. So after connections arrive the
//! supervisor *flushes* the pool with probes: connections to itself that send
//! an empty request line, which tiny_http's connection task answers `400` on
//! its own (no worker is involved; nothing is counted). A probe served by a
//! fresh thread hands that thread to a queued camera; a probe served by a
//! thread that already existed was queued behind everything before it (tasks
//! queue in order) and proves that none is left. The process's thread count
//! (`/proc/self/status`) tells the two apart. Probes close with a reset, so
//! they leave no `TIME_WAIT` sockets behind.
//!
//! One probe at a time released a queued burst one connection per round
//! trip (about 2.5 ms each on 2 busy cores: 150–200 ms for 60 queued
//! cameras). So a flush opens as many probes at once as connections look
//! queued, counted again after every step: each connection tiny_http
//! accepted since the last flush added two descriptors (its socket and a
//! clone, in `/proc/self/fd`) and, unless it was queued, one thread. When
//! none look queued, one probe checks (all an idle pool needs); while
//! checks take fresh threads (connections closed meanwhile hid some
//! queued ones from the count), rounds of probes double. A step's probes
//! arrive before any of their threads has run, so each starts a thread;
//! one that finds nothing queued idles until tiny_http retires it (after
//! 5 s). The count keeps these few: at most 64 a step, and never more than
//! the connections accepted since the last flush (threads that retired
//! meanwhile cannot inflate it).
//!
//! Arrivals are noticed without polling: the supervisor sleeps in `poll(2)`
//! on the listening socket (readable while a connection waits to be
//! accepted) and on a wake-up socket for its own messages. `poll` can miss
//! arrivals, though, and a whole burst at once: an arrival wakes both the
//! supervisor and tiny_http's accept thread (blocked in `accept()`), and a
//! woken `poll` looks at the queue again before it returns. When the accept
//! thread runs first, it takes every connection waiting, and `poll` goes back
//! to sleep without a word. Measured on 2 cores: 1.4 % of 64-connection
//! bursts against a fresh server (7 of 500), each time with 60 of the 64
//! queued until the next flush; the supervisor's voluntary context switches
//! showed it woken and put back to sleep. (Registering the listener with
//! `EPOLLEXCLUSIVE` ahead of the accept thread does not help: only the
//! first arrival's wake-up goes to the supervisor alone; the next, a few
//! microseconds later, wakes the accept thread, which still runs first.)
//!
//! So there is a second doorbell that cannot be missed
//! ([`newcomers`](super::newcomers)): a missed burst still has its oldest
//! queued connection served (tiny_http queued it for a thread it counted as
//! idle, and that thread takes it), and when a worker takes the first
//! request of a connection that arrived after the last flush began, it
//! wakes the supervisor, which flushes. Left are connections that send no
//! request: an idle server also flushes once a second (one probe when
//! nothing is queued), which bounds how long a connection behind such a
//! one can wait, keeps tiny_http's `accept()` from reaching the listener's
//! receive timeout and proves the accept loop alive.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};

/// What ended a [`wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ring {
    /// A connection is waiting in the listener's accept queue (or the
    /// listener was shut down).
    Arrival,
    /// Someone wrote to the wake-up socket.
    Wake,
    /// The timeout passed.
    Quiet,
}

/// Sleeps until a connection arrives, `wake` is written to, or `timeout`.
pub(crate) fn wait(listener: &TcpListener, wake: &UnixStream, timeout: Duration) -> Ring {
    let timeout = Timespec::try_from(timeout).unwrap_or(Timespec {
        tv_sec: i64::from(u32::MAX),
        tv_nsec: 0,
    });
    let mut fds = [
        PollFd::new(listener, PollFlags::IN),
        PollFd::new(wake, PollFlags::IN),
    ];
    match poll(&mut fds, Some(&timeout)) {
        Ok(_) if !fds[1].revents().is_empty() => Ring::Wake,
        Ok(_) if !fds[0].revents().is_empty() => Ring::Arrival,
        Ok(_) => Ring::Quiet,
        Err(e) => {
            // Only EINTR is expected; do not spin on anything else.
            log::debug!("poll on the listening socket: {e}");
            std::thread::sleep(Duration::from_millis(10));
            Ring::Quiet
        }
    }
}

/// Sleeps until `wake` is written to (`true`) or `timeout` passes.
pub(crate) fn sleep(wake: &UnixStream, timeout: Duration) -> bool {
    let timeout = Timespec::try_from(timeout).unwrap_or(Timespec {
        tv_sec: 1,
        tv_nsec: 0,
    });
    let mut fds = [PollFd::new(wake, PollFlags::IN)];
    matches!(poll(&mut fds, Some(&timeout)), Ok(n) if n > 0)
}

/// How long a flush waits for the next answer to its probes before it
/// opens more.
const PROBE_WAIT: Duration = Duration::from_millis(5);

/// The most probes one step of a flush opens at once: a thread each, at
/// most, that finds nothing queued and retires after tiny_http's idle
/// timeout (5 s).
const BATCH_MAX: usize = 64;

/// Connections waiting this long in the accept queue, with no sign of
/// life from the accept loop: it is dead.
const DEAD_AFTER: Duration = Duration::from_secs(2);

/// What a flush did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flush {
    /// Probes sent.
    pub probes: usize,
    /// Whether a probe proved that no task is queued.
    pub settled: bool,
}

/// Why a flush stopped without settling.
#[derive(Debug)]
pub(crate) enum FlushError {
    /// Probes are accepted by the kernel but no task answers them.
    Unanswered,
    /// A probe could not connect.
    Io(io::Error),
}

/// Probes the pool until a probe proves that no connection task is queued,
/// or `limit` probes were sent. First it lets the accept thread take every
/// connection waiting in the listener's queue (so that probes do not wait
/// behind them). Then it probes in steps: as many probes at once as
/// connections look queued since the `last` census (at most
/// [`BATCH_MAX`]); when none do, one probe (all an idle pool needs), and,
/// while such checks take fresh threads, rounds that double. It ends at
/// once when `stopping` says so: after shutdown the accept loop is gone, no
/// probe would ever be answered, and waiting for [`DEAD_AFTER`] would hold
/// up `Server::wait` by seconds.
pub(crate) fn flush(
    listener: &TcpListener,
    target: SocketAddr,
    limit: usize,
    last: &Census,
    stopping: &dyn Fn() -> bool,
) -> Result<Flush, FlushError> {
    let mut watch = Watch::new();
    while readable(listener) && !stopping() {
        if watch.stuck(listener) {
            return Err(FlushError::Unanswered);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // Probes not answered yet: queued behind earlier tasks, or served by
    // threads yet to run.
    let mut pending: Vec<Probe> = Vec::new();
    let (mut probes, mut round, mut checking) = (0, 1, true);
    while probes < limit && !stopping() {
        let before = threads();
        // Each pending probe will release one queued connection.
        let queued = last
            .queued(Census::take(), pending.len())
            .saturating_sub(pending.len())
            .min(BATCH_MAX);
        let step = match (queued, checking) {
            (1.., _) => queued,
            (0, true) => 1,
            (0, false) => round - 1,
        };
        let opened = step.min(limit - probes);
        for _ in 0..opened {
            pending.push(Probe::open(target).map_err(FlushError::Io)?);
            probes += 1;
        }
        let (any, answered) = collect(&mut pending, opened, PROBE_WAIT);
        if any > 0 {
            watch.progress();
        }
        if answered == 0 {
            if watch.stuck(listener) {
                return Err(FlushError::Unanswered);
            }
            // Nothing moves: one probe at a time, until something does.
            (round, checking) = (1, true);
            continue;
        }
        // Threads started while the step's probes were answered; without
        // a thread count, take a few answered probes as the proof.
        let fresh = match (before, threads()) {
            (Some(before), Some(after)) => after.saturating_sub(before),
            _ if probes < 4 => answered,
            _ => 0,
        };
        if fresh < answered {
            // A probe was served by a thread that already existed: it was
            // queued behind every task before it, and none is left. Probes
            // still unanswered have a thread yet to run, or were queued
            // after it: wait for them, and probe on if they stay quiet.
            let left = pending.len();
            if left == 0 || collect(&mut pending, left, PROBE_WAIT).1 == left {
                return Ok(Flush {
                    probes,
                    settled: true,
                });
            }
            (round, checking) = (1, true);
            continue;
        }
        // Every probe took a fresh thread, which takes a queued task after
        // it: more may be queued.
        (round, checking) = match checking {
            _ if queued > 0 => (round, true),
            // The check found no idle thread: the rest of its round
            // follows at once.
            true if round > 1 => (round, false),
            _ => ((round * 2).min(BATCH_MAX), true),
        };
    }
    Ok(Flush {
        probes,
        settled: false,
    })
}

/// Descriptors and threads in this process, counted after a flush. A
/// connection tiny_http accepts holds two descriptors (its socket and a
/// clone) and, unless tiny_http queues it, starts one thread.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Census {
    descriptors: Option<usize>,
    threads: Option<usize>,
}

impl Census {
    /// Counts now, where `/proc` tells.
    pub fn take() -> Census {
        Census {
            descriptors: std::fs::read_dir("/proc/self/fd").ok().map(Iterator::count),
            threads: threads(),
        }
    }

    /// How many connections may have been queued between this census and
    /// `now`: those accepted (two descriptors each, not counting the
    /// `probes` open, one each) that started no thread. Connections closed
    /// meanwhile make it low (a flush then doubles its way on); threads
    /// retired meanwhile cannot make it higher than the connections
    /// accepted.
    fn queued(&self, now: Census, probes: usize) -> usize {
        match (self.descriptors, now.descriptors, self.threads, now.threads) {
            (Some(d0), Some(d1), Some(t0), Some(t1)) => {
                let accepted = d1.saturating_sub(d0 + probes) / 2;
                accepted.saturating_sub(t1.saturating_sub(t0))
            }
            _ => 0,
        }
    }
}

/// Waits until the last `fresh` of the `pending` probes are answered, or
/// no answer comes for `quiet`; drops every answered probe (with a reset).
/// Returns how many were answered, and how many of them were of the last
/// `fresh`.
fn collect(pending: &mut Vec<Probe>, fresh: usize, quiet: Duration) -> (usize, usize) {
    let quiet = Timespec::try_from(quiet).unwrap_or(Timespec {
        tv_sec: 0,
        tv_nsec: 5_000_000,
    });
    let (mut answered, mut waiting) = (0, fresh);
    while waiting > 0 {
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd> = pending
                .iter()
                .map(|probe| PollFd::new(&probe.0, PollFlags::RDHUP))
                .collect();
            match poll(&mut fds, Some(&quiet)) {
                Ok(n) if n > 0 => fds.iter().map(|fd| !fd.revents().is_empty()).collect(),
                _ => break,
            }
        };
        let old = pending.len() - waiting;
        waiting -= ready[old..].iter().filter(|&&r| r).count();
        // The end of the probe's connection (after its `400`), or an
        // error: the probe's task ran.
        let (before, mut ready) = (pending.len(), ready.into_iter());
        pending.retain(|_| !ready.next().unwrap_or(false));
        answered += before - pending.len();
    }
    (answered, fresh - waiting)
}

/// Whether a connection waits in the listener's accept queue.
fn readable(listener: &TcpListener) -> bool {
    let mut fds = [PollFd::new(listener, PollFlags::IN)];
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(poll(&mut fds, Some(&zero)), Ok(n) if n > 0)
}

/// Tells a dead accept loop from a busy one: dead when connections have
/// waited in the accept queue for [`DEAD_AFTER`] while no thread started or
/// ended and no probe was answered.
struct Watch {
    since: Instant,
    threads: Option<usize>,
}

impl Watch {
    fn new() -> Watch {
        Watch {
            since: Instant::now(),
            threads: threads(),
        }
    }

    fn progress(&mut self) {
        self.since = Instant::now();
    }

    fn stuck(&mut self, listener: &TcpListener) -> bool {
        let threads = threads();
        if threads != self.threads || !readable(listener) {
            self.threads = threads;
            self.progress();
        }
        self.since.elapsed() > DEAD_AFTER
    }
}

/// One probe connection.
struct Probe(TcpStream);

impl Probe {
    /// Connects and sends an empty request line (tiny_http answers `400`).
    fn open(target: SocketAddr) -> io::Result<Probe> {
        let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(1))?;
        // Closing with a reset: no TIME_WAIT on either end.
        socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
        stream.set_nodelay(true)?;
        stream.write_all(b"\r\n")?;
        Ok(Probe(stream))
    }
}

/// The number of threads in this process, where `/proc` tells it.
///
/// Read from `/proc/self/status`, whose `Threads:` line costs the same
/// whatever the thread count: `/proc/self/stat` (which has the same figure)
/// also sums the CPU time of every thread, so a flush amid a burst of 1,000
/// connections (a thread each) paid for all of them at every count.
pub(crate) fn threads() -> Option<usize> {
    use std::io::Read;
    // `/proc` files report no size: sized up front, the read takes one
    // call (and one for the end) instead of doubling from 32 bytes.
    let mut status = String::with_capacity(4096);
    std::fs::File::open("/proc/self/status")
        .and_then(|mut file| file.read_to_string(&mut status))
        .ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_count_sees_a_new_thread() {
        let before = threads().expect("Linux has /proc/self/status");
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || rx.recv());
        assert!(threads().unwrap() > before);
        drop(tx);
        let _ = t.join();
    }

    fn census(descriptors: usize, threads: usize) -> Census {
        Census {
            descriptors: Some(descriptors),
            threads: Some(threads),
        }
    }

    #[test]
    fn the_census_counts_accepted_connections_without_a_thread_as_queued() {
        let last = census(20, 10);
        // 64 connections accepted, 4 of them with a thread of their own.
        assert_eq!(last.queued(census(20 + 128, 14), 0), 60);
        // 3 probes open (one descriptor each) are no connections.
        assert_eq!(last.queued(census(20 + 128 + 3, 14), 3), 60);
        // Every connection with its thread: nothing queued.
        assert_eq!(last.queued(census(20 + 128, 74), 0), 0);
        // Idle threads retired, connections closed: never below zero, and
        // retired threads never count as queued connections.
        assert_eq!(last.queued(census(12, 4), 0), 0);
        assert_eq!(last.queued(census(20 + 8, 6), 0), 4);
        // Without /proc: nothing known, the flush probes its way.
        assert_eq!(Census::default().queued(census(200, 10), 0), 0);
    }

    #[test]
    fn an_idle_listener_does_not_ring() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (wake, _other) = UnixStream::pair().unwrap();
        let ring = wait(&listener, &wake, Duration::from_millis(20));
        assert_eq!(ring, Ring::Quiet);
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let ring = wait(&listener, &wake, Duration::from_secs(5));
        assert_eq!(ring, Ring::Arrival);
    }
}
