//! Reaching the socket of a connection that tiny_http owns, to close it.
//!
//! tiny_http 0.12 keeps every accepted socket to itself and reads the next
//! request from a connection as soon as the previous body reader is dropped;
//! its API has no way to close a connection. After refusing a request whose
//! framing is in doubt, that is exactly what must happen (RFC 9112 §6.3):
//! whatever follows the refused head must never be read as a request.
//!
//! On Linux the socket can still be reached without touching tiny_http's
//! internals: `pidfd_getfd(2)` duplicates one of this process's own
//! descriptors by number, and `/proc/self/fd` lists them. The connection is
//! found by its addresses (peer address and our port), checked on the
//! duplicate, and `shutdown(2)` on the duplicate acts on the shared socket.
//! Only descriptors `/proc` shows as sockets are duplicated: closing a
//! duplicate of a regular file would release the process's POSIX locks on
//! it. A duplicate that turns out not to be a socket after all (the number
//! was reused in between) is leaked rather than closed, for the same reason.
//!
//! Where this is not available (another OS, no `/proc`, or a seccomp policy
//! that forbids `pidfd_getfd`, as some container runtimes apply) the server
//! runs without it; see `docs/tiny_http.md`, "Refused connections".
//!
//! A search costs one `readlink` per open descriptor of the process (a few
//! microseconds each). Searches run one at a time and may use a quarter of a
//! core at most: beyond that, a refusal goes without the immediate close
//! rather than letting a flood of bad requests buy CPU time.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

/// Share of one core that searches may use, over a one-second window.
const BUDGET: Duration = Duration::from_millis(250);

/// Finds the sockets of this server's connections. It holds no descriptor
/// of its own between searches (a server short of descriptors needs each).
#[cfg(target_os = "linux")]
pub(crate) struct Sockets {
    port: u16,
    /// Held during a search; the window start and time spent in it.
    budget: std::sync::Mutex<(std::time::Instant, Duration)>,
}

#[cfg(target_os = "linux")]
impl Sockets {
    /// `None` when this system does not let us duplicate our own
    /// descriptors: tried on the listening socket itself.
    pub fn new(listener: &TcpListener) -> Option<Sockets> {
        use rustix::process::{getpid, pidfd_getfd, pidfd_open, PidfdFlags, PidfdGetfdFlags};
        use std::os::fd::AsRawFd;

        let pidfd = pidfd_open(getpid(), PidfdFlags::empty()).ok()?;
        let copy = pidfd_getfd(&pidfd, listener.as_raw_fd(), PidfdGetfdFlags::empty()).ok()?;
        let copy = socket2::Socket::from(copy);
        let port = listener.local_addr().ok()?.port();
        let same = copy.local_addr().ok()?.as_socket().map(|a| a.port()) == Some(port);
        same.then(|| Sockets {
            port,
            budget: std::sync::Mutex::new((std::time::Instant::now(), Duration::ZERO)),
        })
    }

    /// A duplicate of the socket of our connection with `peer`, if it is
    /// still open. `None` also when another search is running or the
    /// budget is spent.
    pub fn find(&self, peer: SocketAddr) -> Option<socket2::Socket> {
        let mut budget = self.budget.try_lock().ok()?;
        let started = std::time::Instant::now();
        if started.duration_since(budget.0) >= Duration::from_secs(1) {
            *budget = (started, Duration::ZERO);
        }
        if budget.1 >= BUDGET {
            return None;
        }
        let found = self.search(peer);
        budget.1 += started.elapsed();
        found
    }

    fn search(&self, peer: SocketAddr) -> Option<socket2::Socket> {
        use rustix::fs::{openat, readlinkat, Dir, Mode, OFlags, CWD};
        use rustix::process::{getpid, pidfd_getfd, pidfd_open, PidfdFlags, PidfdGetfdFlags};

        let pidfd = pidfd_open(getpid(), PidfdFlags::empty()).ok()?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir = openat(CWD, "/proc/self/fd", flags, Mode::empty()).ok()?;
        let mut numbers: Vec<i32> = Vec::new();
        let mut entries = Dir::read_from(&dir).ok()?;
        while let Some(Ok(entry)) = entries.read() {
            // "." and ".." are not numbers.
            if let Some(n) = entry.file_name().to_str().ok().and_then(|n| n.parse().ok()) {
                numbers.push(n);
            }
        }
        // Newest first: a connection refused soon after it was accepted
        // usually has the highest numbers (the kernel hands out the lowest
        // free one, and cameras' long-lived connections hold the low ones).
        numbers.sort_unstable_by(|a, b| b.cmp(a));
        let mut link = Vec::with_capacity(32);
        for number in numbers {
            link = match readlinkat(&dir, number.to_string(), std::mem::take(&mut link)) {
                Ok(target) => target.into_bytes(),
                Err(_) => continue, // closed meanwhile
            };
            let is_socket = link.starts_with(b"socket:[");
            link.clear();
            if !is_socket {
                continue;
            }
            let Ok(copy) = pidfd_getfd(&pidfd, number, PidfdGetfdFlags::empty()) else {
                continue;
            };
            let copy = std::fs::File::from(copy);
            if !copy
                .metadata()
                .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
            {
                // The number now names something else: never close it.
                std::mem::forget(copy);
                continue;
            }
            let socket = socket2::Socket::from(std::os::fd::OwnedFd::from(copy));
            let ours = socket.local_addr().ok().and_then(|a| a.as_socket());
            let theirs = socket.peer_addr().ok().and_then(|a| a.as_socket());
            if ours.map(|a| a.port()) == Some(self.port) && theirs == Some(peer) {
                return Some(socket);
            }
        }
        None
    }
}

/// Elsewhere, connections cannot be reached.
#[cfg(not(target_os = "linux"))]
pub(crate) struct Sockets(());

#[cfg(not(target_os = "linux"))]
impl Sockets {
    pub fn new(_listener: &TcpListener) -> Option<Sockets> {
        None
    }

    pub fn find(&self, _peer: SocketAddr) -> Option<socket2::Socket> {
        None
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::net::{Shutdown, TcpStream};

    #[test]
    fn finds_and_closes_a_connection_it_does_not_own() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let Some(sockets) = Sockets::new(&listener) else {
            eprintln!("pidfd_getfd is not allowed here: nothing to test");
            return;
        };
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_owned_elsewhere, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        let other = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_kept, _) = listener.accept().unwrap();

        let found = sockets.find(peer).expect("the accepted socket is found");
        assert_eq!(found.peer_addr().unwrap().as_socket(), Some(peer));
        found.shutdown(Shutdown::Both).unwrap();
        let mut buf = [0u8; 1];
        use std::io::Read;
        assert_eq!((&client).read(&mut buf).unwrap(), 0, "the client sees EOF");
        // Only that connection: the other one is untouched.
        other.set_nonblocking(true).unwrap();
        assert!(
            (&other).read(&mut buf).is_err(),
            "still open, nothing to read"
        );
        // A peer we have no connection with is not found.
        assert!(sockets.find("127.0.0.1:9".parse().unwrap()).is_none());
    }
}
