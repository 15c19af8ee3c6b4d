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
//! (`/proc/self/stat`) tells the two apart. Probes close with a reset, so
//! they leave no `TIME_WAIT` sockets behind.
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

use std::io::{self, ErrorKind, Read, Write};
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

/// How long a probe is given to be answered before the next one is sent.
const PROBE_WAIT: Duration = Duration::from_millis(5);

/// Connections waiting this long in the accept queue, with no sign of
/// life from the accept loop: it is dead.
const DEAD_AFTER: Duration = Duration::from_secs(2);

/// What a flush did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flush {
    /// Probes sent.
    pub probes: usize,
    /// Whether the last probe proved that no task is queued.
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
/// behind them). It ends at once when `stopping` says so: after shutdown
/// the accept loop is gone, no probe would ever be answered, and waiting for
/// [`DEAD_AFTER`] would hold up `Server::wait` by seconds.
pub(crate) fn flush(
    listener: &TcpListener,
    target: SocketAddr,
    limit: usize,
    stopping: &dyn Fn() -> bool,
) -> Result<Flush, FlushError> {
    let mut watch = Watch::new();
    while readable(listener) && !stopping() {
        if watch.stuck(listener) {
            return Err(FlushError::Unanswered);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut pending: Vec<Probe> = Vec::new();
    let mut probes = 0;
    while probes < limit && !stopping() {
        let before = threads();
        let mut probe = Probe::open(target).map_err(FlushError::Io)?;
        probes += 1;
        let answered = probe.answered(PROBE_WAIT);
        // Earlier probes left queued are answered once a thread takes them.
        pending.retain_mut(|p| !p.answered(Duration::ZERO));
        if !answered {
            if watch.stuck(listener) {
                return Err(FlushError::Unanswered);
            }
            pending.push(probe);
            continue;
        }
        watch.progress();
        // Without a thread count, take a few answered probes as the proof.
        let fresh_thread = match (before, threads()) {
            (Some(before), Some(after)) => after > before,
            _ => probes < 4,
        };
        if !fresh_thread && pending.is_empty() {
            return Ok(Flush {
                probes,
                settled: true,
            });
        }
    }
    Ok(Flush {
        probes,
        settled: false,
    })
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

    /// Whether the probe's task ran (its answer, or its end, arrived) within
    /// `wait`; a zero `wait` only looks.
    fn answered(&mut self, wait: Duration) -> bool {
        let set = match wait.is_zero() {
            true => self.0.set_nonblocking(true),
            false => self.0.set_read_timeout(Some(wait)),
        };
        if set.is_err() {
            return true;
        }
        let mut buf = [0u8; 64];
        match self.0.read(&mut buf) {
            // An answer (`400`), or the end of the connection: its task ran.
            Ok(_n) => true,
            Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        }
    }
}

/// The number of threads in this process, where `/proc` tells it.
pub(crate) fn threads() -> Option<usize> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Field 20 (num_threads); the fields after the command's closing
    // parenthesis start at field 3.
    let (_, fields) = stat.rsplit_once(')')?;
    fields.split_whitespace().nth(20 - 3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_count_sees_a_new_thread() {
        let before = threads().expect("Linux has /proc/self/stat");
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || rx.recv());
        assert!(threads().unwrap() > before);
        drop(tx);
        let _ = t.join();
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
