//! Answering a request and ending its connection: the one step every
//! refusal takes when it leaves bytes unread.
//!
//! Once a request is refused without its body being read (or with its
//! framing in doubt), nothing the client sent after the head may ever be
//! taken for a request (RFC 9112 §6.3): otherwise a body crafted for a front
//! end that frames it differently becomes a second, smuggled request here.
//! [`Closer::answer_and_close`] does, in this order:
//!
//! 1. finds the connection's socket ([`Sockets`]) and shuts its reading side,
//!    so that tiny_http can only see bytes already received, then EOF;
//! 2. writes the answer (with `Connection: close`) through the request's own
//!    writer, which waits for every earlier answer on the connection;
//! 3. marks the peer *condemned*: requests tiny_http still parses from bytes
//!    received before the close are discarded, never answered or delivered;
//! 4. shuts the writing side: the client gets the answer, then EOF. Anything
//!    tiny_http would still write (its own `400` for garbage) fails, and any
//!    byte the client sends from now on resets the connection.
//!
//! tiny_http's thread for the connection then reads what was already
//! received, meets EOF and ends, closing its two descriptors.
//!
//! Without access to the socket (see [`Sockets`]), steps 1 and 4 are skipped:
//! the answer still says `Connection: close` and everything the connection
//! sends afterwards is still discarded, but the connection stays open until
//! the client closes it or the read timeout does.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use tiny_http::Request;

use super::sockets::Sockets;

/// Ends connections after an answer and remembers which ones it ended.
pub(crate) struct Closer {
    sockets: Option<Sockets>,
    condemned: RwLock<HashMap<SocketAddr, Condemned>>,
    /// `condemned.len()`, readable without the lock: the common case is zero.
    count: AtomicUsize,
    /// How long a condemned peer is remembered after its last request.
    remember: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Condemned {
    last_seen: Instant,
    /// Whether the socket was shut down (so a live socket with the same
    /// peer address is a new connection).
    closed: bool,
}

impl Closer {
    /// `remember` must outlast the time a connection can stay open without
    /// sending (the read timeout).
    pub fn new(listener: &TcpListener, remember: Duration) -> Closer {
        let sockets = Sockets::new(listener);
        if sockets.is_some() {
            log::info!(
                "protections active: refused connections closed at once, stalled bodies cut at \
                 their deadline (sockets reached through /proc/self/fd)"
            );
        } else {
            log::warn!(
                "protections degraded (no /proc/self/fd): refused connections are not closed at \
                 once (a request smuggled behind refused framing may be served) and stalled \
                 bodies are cut only at the read timeout"
            );
        }
        Closer {
            sockets,
            condemned: RwLock::new(HashMap::new()),
            count: AtomicUsize::new(0),
            remember,
        }
    }

    /// Whether connections' sockets can be reached at all (see
    /// [`Sockets`]): refused connections closed at once, stalled bodies cut
    /// at their deadline.
    pub fn reaches_sockets(&self) -> bool {
        self.sockets.is_some()
    }

    /// The socket of our connection with `peer`, to shut down (for instance
    /// to stop a read that is waiting on it).
    pub fn socket(&self, peer: SocketAddr) -> Option<socket2::Socket> {
        self.sockets.as_ref()?.find(peer)
    }

    /// Writes `answer` (a complete HTTP answer, which should say
    /// `Connection: close`) after every earlier answer on the connection,
    /// then ends the connection without reading anything more from it.
    /// Returns whether the socket was shut down at once.
    ///
    /// Not for a request whose unread `Content-Length` body is too large for
    /// tiny_http to drain: see [`answer_and_park`](Self::answer_and_park).
    pub fn answer_and_close(&self, request: Request, answer: &[u8]) -> bool {
        let socket = request.remote_addr().and_then(|p| self.socket(*p));
        self.answer_and_close_on(request, answer, socket)
    }

    /// [`answer_and_close`](Self::answer_and_close) with the connection's
    /// socket already looked up (`None`: not reachable, or not looked for).
    pub fn answer_and_close_on(
        &self,
        request: Request,
        answer: &[u8],
        socket: Option<socket2::Socket>,
    ) -> bool {
        let peer = request.remote_addr().copied();
        if let Some(socket) = &socket {
            let _ = socket.shutdown(Shutdown::Read);
        }
        // Dropping the request's body reader here lets tiny_http drain an
        // unread `Content-Length` body: from a socket shut for reading, that
        // ends at what was already received.
        let mut writer = request.into_writer();
        if let Err(e) = writer.write_all(answer).and_then(|()| writer.flush()) {
            log::debug!("could not answer before closing: {e}");
        }
        if let Some(peer) = peer {
            self.condemn(peer, socket.is_some());
        }
        if let Some(socket) = &socket {
            let _ = socket.shutdown(Shutdown::Write);
        }
        drop(writer);
        socket.is_some()
    }

    /// Like [`answer_and_close`](Self::answer_and_close) for a request whose
    /// body reader can never be dropped: tiny_http would allocate the whole
    /// declared remainder at once, more than this machine can map (see
    /// [`releasable`]). The answer goes straight to the socket, and the
    /// request is leaked: tiny_http's thread for the connection and its two
    /// descriptors stay until the process exits. Without access to the
    /// socket, `fallback` answers and keeps the request.
    pub fn answer_and_park(&self, request: Request, answer: &[u8], fallback: impl FnOnce(Request)) {
        let peer = request.remote_addr().copied();
        match peer.and_then(|p| Some((p, self.socket(p)?))) {
            Some((peer, socket)) => {
                let _ = socket.shutdown(Shutdown::Read);
                if let Err(e) = send_all_quietly(&socket, answer) {
                    log::debug!("could not answer before closing: {e}");
                }
                self.condemn(peer, true);
                let _ = socket.shutdown(Shutdown::Write);
                std::mem::forget(request);
            }
            None => {
                if let Some(peer) = peer {
                    self.condemn(peer, false);
                }
                fallback(request);
            }
        }
    }

    fn condemn(&self, peer: SocketAddr, closed: bool) {
        let mut map = self.condemned.write().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if map.len() >= 1024 {
            map.retain(|_, c| now.duration_since(c.last_seen) < self.remember);
        }
        map.insert(
            peer,
            Condemned {
                last_seen: now,
                closed,
            },
        );
        self.count.store(map.len(), Ordering::SeqCst);
    }

    /// Whether a request from `peer` came from a connection that was
    /// answered and closed: such a request must be neither answered nor
    /// delivered.
    pub fn is_condemned(&self, peer: SocketAddr) -> bool {
        if self.count.load(Ordering::SeqCst) == 0 {
            return false;
        }
        let entry = self
            .condemned
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&peer)
            .copied();
        let Some(entry) = entry else { return false };
        let mut condemned = entry.last_seen.elapsed() < self.remember;
        if condemned && entry.closed {
            // The same address and port may come back as a new connection
            // once the old one is gone: a live, writable socket is that new
            // connection (the old one was shut for writing).
            let live = self
                .socket(peer)
                .is_some_and(|s| send_quietly(&s, &[]).is_ok());
            condemned = !live;
        }
        let mut map = self.condemned.write().unwrap_or_else(|e| e.into_inner());
        if condemned {
            if let Some(c) = map.get_mut(&peer) {
                c.last_seen = Instant::now();
            }
        } else {
            map.remove(&peer);
        }
        self.count.store(map.len(), Ordering::SeqCst);
        condemned
    }
}

/// The body of an answer that, when tiny_http writes it — after every
/// earlier answer on the connection is complete — notes whether the
/// connection has been condemned meanwhile. An answer written after a
/// refusal on the same connection belongs to a request that followed the
/// refused one: it must not be delivered.
pub(crate) struct Watched<'a> {
    body: &'a [u8],
    closer: &'a Closer,
    peer: Option<SocketAddr>,
    condemned: &'a std::cell::Cell<bool>,
    looked: bool,
}

impl<'a> Watched<'a> {
    pub fn new(
        body: &'a [u8],
        closer: &'a Closer,
        peer: Option<SocketAddr>,
        condemned: &'a std::cell::Cell<bool>,
    ) -> Watched<'a> {
        Watched {
            body,
            closer,
            peer,
            condemned,
            looked: false,
        }
    }
}

impl Read for Watched<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.looked {
            self.looked = true;
            let condemned = self.peer.is_some_and(|p| self.closer.is_condemned(p));
            self.condemned.set(condemned);
        }
        self.body.read(buf)
    }
}

/// Whether a request whose unread `Content-Length` body declares `declared`
/// bytes may be dropped.
///
/// Dropping it runs tiny_http 0.12's drain, which first allocates the whole
/// remainder, zeroed (`vec![0; remaining]`), then reads into it. A zeroed
/// allocation that large comes straight from `mmap`: it costs address space,
/// not memory, and after the socket is shut for reading the read meets EOF
/// at once, so not one page of it is touched. What must never happen is
/// that the allocation *fails*: that aborts the process. It fails when one
/// mapping is larger than the kernel will grant (with Linux's default
/// heuristic, about the machine's RAM plus swap; less under strict
/// overcommit or an address-space limit).
///
/// So the allocation is tried first, without touching it, with twice the
/// size as headroom for whatever else allocates meanwhile, and given back at
/// once; only if it succeeds may the request be dropped. Up to
/// [`MAX_DRAIN_BYTES`](crate::limits::MAX_DRAIN_BYTES) no probe is needed.
pub(crate) fn releasable(declared: u64) -> bool {
    if declared <= crate::limits::MAX_DRAIN_BYTES {
        return true;
    }
    let Some(probe) = usize::try_from(declared)
        .ok()
        .and_then(|n| n.checked_mul(2))
    else {
        return false;
    };
    let mut room: Vec<u8> = Vec::new();
    room.try_reserve_exact(probe).is_ok()
}

/// The body length a request declares (`Content-Length`), 0 without one.
pub(crate) fn declared(request: &Request) -> u64 {
    request.body_length().map_or(0, |n| n as u64)
}

/// Whether all of the request's body is already in memory: none, or at most
/// 1 KiB that tiny_http read together with the head (it does so unless the
/// client asked for `100 Continue`). Dropping such a request never waits.
pub(crate) fn body_in_memory(request: &Request) -> bool {
    let header = |name: &'static str| request.headers().iter().any(|h| h.field.equiv(name));
    match request.body_length() {
        Some(n) => n == 0 || (n <= 1024 && !header("Expect")),
        None => !header("Transfer-Encoding"),
    }
}

/// Stack of a thread that only finishes a refused request (tiny_http's
/// drain buffer is on the heap).
const DRAIN_STACK: usize = 64 * 1024;

/// Runs `finish` (which answers and drops a refused request) here when the
/// request's body is in memory, else on a thread of its own that ends when
/// tiny_http's drain of the body does: that may take as long as the client
/// keeps sending, and must never take a worker with it.
pub(crate) fn elsewhere(request: Request, finish: impl FnOnce(Request) + Send + 'static) {
    if body_in_memory(&request) {
        return finish(request);
    }
    let spawned = std::thread::Builder::new()
        .name("viewtron-drain".into())
        .stack_size(DRAIN_STACK)
        .spawn(move || finish(request));
    if let Err(e) = spawned {
        // The request went down with the closure: drained right here.
        log::debug!("cannot start a drain thread: {e}");
    }
}

/// Sends on a socket of tiny_http's without ever raising `SIGPIPE`.
///
/// A client that reset the connection makes a plain `send` raise `SIGPIPE`,
/// which kills a process that has not set it to be ignored (Rust's `main`
/// does; a host that embeds the library, or a fuzzer's `no_main` harness,
/// may not). `MSG_NOSIGNAL` turns that into an `EPIPE` error, as std's own
/// `TcpStream` does.
fn send_quietly(socket: &socket2::Socket, bytes: &[u8]) -> std::io::Result<usize> {
    rustix::net::send(socket, bytes, rustix::net::SendFlags::NOSIGNAL).map_err(Into::into)
}

/// [`send_quietly`] until every byte is sent.
fn send_all_quietly(socket: &socket2::Socket, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match send_quietly(socket, bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
