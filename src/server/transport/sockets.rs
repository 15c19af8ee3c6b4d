//! Reaching the socket of a connection that tiny_http owns, to close it.
//!
//! tiny_http 0.12 keeps every accepted socket to itself and reads the next
//! request from a connection as soon as the previous body reader is dropped;
//! its API has no way to close a connection. After refusing a request whose
//! framing is in doubt, that is exactly what must happen (RFC 9112 §6.3):
//! whatever follows the refused head must never be read as a request.
//!
//! On Linux the socket can still be reached without touching tiny_http's
//! internals: `/proc/self/fd` lists this process's descriptors, and
//! `fcntl(F_DUPFD_CLOEXEC)` duplicates one by number
//! ([`own_fd`](super::own_fd), the crate's one `unsafe` call, which says
//! why that is sound and why not `pidfd_getfd(2)`, which container
//! runtimes deny). The connection is
//! found by its addresses (peer address and our port), checked on the
//! duplicate, and `shutdown(2)` on the duplicate acts on the shared socket.
//! Only descriptors `/proc` shows as sockets are duplicated: closing a
//! duplicate of a regular file would release the process's POSIX locks on
//! it. A duplicate that turns out not to be a socket after all (the number
//! was reused in between) is leaked rather than closed, for the same reason.
//!
//! Where this is not available (another OS, or no `/proc` mounted) the
//! server runs without it; see `docs/tiny_http.md`, "Refused connections".
//!
//! A search walks `/proc/self/fd`, newest descriptors first: one `readlink`
//! per descriptor (a few microseconds each), which also gives a socket's
//! inode. Every socket the walk duplicates to read its addresses is
//! remembered by inode (so no later walk duplicates it again) and, for this
//! server's connections, by peer address (so a later search for that peer
//! needs no walk at all: one `readlink` proves the descriptor still holds
//! the same socket). A flood of refused connections thus costs one walk,
//! not one per refusal. Searches run one at a time (a caller waits for the
//! one running) and may use a quarter of a core at most: beyond that, a
//! refusal goes without the immediate close rather than letting a flood of
//! bad requests buy CPU time.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

/// Share of one core that searches may use, over a one-second window.
const BUDGET: Duration = Duration::from_millis(250);

/// Sockets remembered at most; beyond, the memory is cleared and rebuilt.
#[cfg(target_os = "linux")]
const REMEMBERED: usize = 1 << 16;

/// Finds the sockets of this server's connections. It holds no descriptor
/// of its own between searches (a server short of descriptors needs each).
#[cfg(target_os = "linux")]
pub(crate) struct Sockets {
    port: u16,
    /// Held during a search.
    state: std::sync::Mutex<State>,
}

/// The budget window, and what earlier walks learnt.
#[cfg(target_os = "linux")]
struct State {
    window: std::time::Instant,
    spent: Duration,
    /// Socket inode -> its peer, when it is one of this server's
    /// connections (`None`: another socket of the process).
    by_inode: std::collections::HashMap<u64, Option<SocketAddr>>,
    /// Peer -> (descriptor number, socket inode) of this server's
    /// connections.
    by_peer: std::collections::HashMap<SocketAddr, (i32, u64)>,
}

#[cfg(target_os = "linux")]
impl Sockets {
    /// `None` when this system does not let us duplicate our own
    /// descriptors: tried on the listening socket itself, found through
    /// `/proc/self/fd` as every connection will be.
    pub fn new(listener: &TcpListener) -> Option<Sockets> {
        use std::os::fd::AsRawFd;

        let dir = proc_fd()?;
        let number = listener.as_raw_fd();
        inode_of(&dir, number, &mut Vec::new())?;
        let copy = duplicate(number)?;
        let port = listener.local_addr().ok()?.port();
        let same = copy.local_addr().ok()?.as_socket().map(|a| a.port()) == Some(port);
        same.then(|| Sockets {
            port,
            state: std::sync::Mutex::new(State {
                window: std::time::Instant::now(),
                spent: Duration::ZERO,
                by_inode: Default::default(),
                by_peer: Default::default(),
            }),
        })
    }

    /// A duplicate of the socket of our connection with `peer`, if it is
    /// still open. `None` also when the budget is spent.
    pub fn find(&self, peer: SocketAddr) -> Option<socket2::Socket> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let started = std::time::Instant::now();
        if started.duration_since(state.window) >= Duration::from_secs(1) {
            state.window = started;
            state.spent = Duration::ZERO;
        }
        if state.spent >= BUDGET {
            return None;
        }
        let found = self.search(&mut state, peer);
        state.spent += started.elapsed();
        found
    }

    fn search(&self, state: &mut State, peer: SocketAddr) -> Option<socket2::Socket> {
        use rustix::fs::Dir;

        let dir = proc_fd()?;
        let mut link = Vec::with_capacity(32);
        // Remembered: one readlink proves the number still holds the socket.
        if let Some(&(number, inode)) = state.by_peer.get(&peer) {
            if inode_of(&dir, number, &mut link) == Some(inode) {
                if let Some(socket) = self.ours(number, peer) {
                    return Some(socket);
                }
            }
            state.by_peer.remove(&peer);
        }
        if state.by_inode.len() > REMEMBERED {
            state.by_inode.clear();
            state.by_peer.clear();
        }
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
        for number in numbers {
            let Some(inode) = inode_of(&dir, number, &mut link) else {
                continue; // not a socket, or closed meanwhile
            };
            match state.by_inode.get(&inode) {
                Some(Some(theirs)) if *theirs == peer => {
                    if let Some(socket) = self.ours(number, peer) {
                        state.by_peer.insert(peer, (number, inode));
                        return Some(socket);
                    }
                }
                Some(_) => {} // known, and not the one
                None => {
                    let Some(socket) = duplicate(number) else {
                        continue;
                    };
                    let ours = socket.local_addr().ok().and_then(|a| a.as_socket());
                    let theirs = socket.peer_addr().ok().and_then(|a| a.as_socket());
                    let connection = theirs.filter(|_| ours.map(|a| a.port()) == Some(self.port));
                    state.by_inode.insert(inode, connection);
                    if let Some(theirs) = connection {
                        state.by_peer.insert(theirs, (number, inode));
                        if theirs == peer {
                            return Some(socket);
                        }
                    }
                }
            }
        }
        None
    }

    /// The socket at `number`, if it is our connection with `peer`.
    fn ours(&self, number: i32, peer: SocketAddr) -> Option<socket2::Socket> {
        let socket = duplicate(number)?;
        let ours = socket.local_addr().ok().and_then(|a| a.as_socket());
        let theirs = socket.peer_addr().ok().and_then(|a| a.as_socket());
        (ours.map(|a| a.port()) == Some(self.port) && theirs == Some(peer)).then_some(socket)
    }
}

/// The inode of the socket at descriptor `number` (`socket:[INODE]`), or
/// `None` for anything else.
#[cfg(target_os = "linux")]
fn inode_of(dir: &std::os::fd::OwnedFd, number: i32, link: &mut Vec<u8>) -> Option<u64> {
    let target = rustix::fs::readlinkat(dir, number.to_string(), std::mem::take(link)).ok()?;
    *link = target.into_bytes();
    let inode = link
        .strip_prefix(b"socket:[")
        .and_then(|rest| rest.strip_suffix(b"]"))
        .and_then(|digits| std::str::from_utf8(digits).ok())
        .and_then(|digits| digits.parse().ok());
    link.clear();
    inode
}

/// `/proc/self/fd`, opened as a directory.
#[cfg(target_os = "linux")]
fn proc_fd() -> Option<std::os::fd::OwnedFd> {
    use rustix::fs::{openat, Mode, OFlags, CWD};

    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    openat(CWD, "/proc/self/fd", flags, Mode::empty()).ok()
}

/// A duplicate of descriptor `number`, if it is (still) a socket. A number
/// that now names something else is leaked, never closed: closing a
/// duplicate of a regular file would release the process's POSIX locks.
#[cfg(target_os = "linux")]
fn duplicate(number: i32) -> Option<socket2::Socket> {
    let copy = std::fs::File::from(super::own_fd::duplicate(number).ok()?);
    if !copy
        .metadata()
        .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
    {
        std::mem::forget(copy);
        return None;
    }
    Some(socket2::Socket::from(std::os::fd::OwnedFd::from(copy)))
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
        let sockets = Sockets::new(&listener).expect("sockets reachable through /proc/self/fd");
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

    #[test]
    fn remembers_connections_and_never_returns_a_stale_one() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let sockets = Sockets::new(&listener).expect("sockets reachable through /proc/self/fd");
        let addr = listener.local_addr().unwrap();
        let clients: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(addr).unwrap()).collect();
        let accepted: Vec<(TcpStream, SocketAddr)> =
            (0..20).map(|_| listener.accept().unwrap()).collect();
        // One walk learns every connection; the others are found from memory.
        for (_, peer) in &accepted {
            let found = sockets.find(*peer).expect("found");
            assert_eq!(found.peer_addr().unwrap().as_socket(), Some(*peer));
        }
        let state = sockets.state.lock().unwrap();
        assert!(state.by_peer.len() >= 20, "{}", state.by_peer.len());
        drop(state);
        // A closed connection whose descriptor number now holds another
        // connection is not returned for the old peer.
        let (gone, gone_peer) = accepted.into_iter().next().unwrap();
        drop(gone);
        let _new_client = TcpStream::connect(addr).unwrap();
        let (_new, new_peer) = listener.accept().unwrap();
        assert!(sockets.find(gone_peer).is_none());
        assert_eq!(
            sockets
                .find(new_peer)
                .unwrap()
                .peer_addr()
                .unwrap()
                .as_socket(),
            Some(new_peer)
        );
        drop(clients);
    }
}
