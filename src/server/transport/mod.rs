//! The transport: everything that knows tiny_http 0.12's internals (its
//! pool, its descriptors, its connection threads, its accept loop), behind
//! one narrow interface. The rest of the server (the request pipeline) sees
//! only what any HTTP server would give it:
//!
//! - [`Exchange`]: one request's head (method, target, version, headers),
//!   its peer, its body as a reader with a deadline ([`Exchange::body`]),
//!   and three ways to answer: the camera's `200`
//!   ([`Exchange::answer_success`], which says whether the request was one
//!   a refusal had closed the connection before), an answer that keeps the
//!   connection ([`Exchange::answer`]), and "answer and close"
//!   ([`Exchange::answer_and_close`]).
//! - [`Bound`] / [`Transport`]: bind, start with a [`Hire`] (a request
//!   handler per worker thread), stop ([`Stopper`]), wait; and a [`Report`]
//!   of what the repairs did, for `Stats`.
//!
//! tiny_http stays (it is the user's choice of stack). The day a tiny_http
//! release no longer needs a repair below, the repair goes from here, and
//! nothing above this module changes.
//!
//! # The repairs
//!
//! Each: the tiny_http behaviour it answers; the mechanism; the test that
//! proves it (under `tests/`); what happens where the mechanism is
//! unavailable. The full account, with figures, is `docs/tiny_http.md`.
//!
//! 1. **The pool's idle miscount** (`doorbell`, `newcomers`, `supervisor`,
//!    `notices`). tiny_http queues a new connection's task when it counts
//!    an idle thread, and a thread woken for an earlier task still counts
//!    as idle: a burst of keep-alive cameras could wait indefinitely
//!    behind each other. Mechanism: the supervisor sleeps in `poll(2)` on
//!    the listener and on a wake-up socket; after arrivals, and when a
//!    worker takes the first request of a connection it did not see
//!    arrive, it *flushes* the pool with probe connections tiny_http
//!    answers by itself, counting threads and descriptors in `/proc/self`
//!    to tell when nothing is queued; once a second when idle. Test:
//!    `burst` (64, 256 and 1,000 new cameras at once; a burst `poll`
//!    missed; a lone camera behind busy connections). Unavailable (no
//!    `/proc/self`): a flush cannot count threads, so it stops once four
//!    probes have been answered; a larger burst may be released only by
//!    the next flush (the once-a-second one at the latest).
//! 2. **An accept loop that dies for good** (`supervisor`, `generation`).
//!    tiny_http ends its accept thread on the first `accept()` error
//!    (`EMFILE`, or `EAGAIN` at the listener's receive timeout), and
//!    panics silently when `try_clone` finds no descriptor. Mechanism: the
//!    supervisor keeps the listening socket and starts a new tiny_http
//!    server (a *generation*) on a duplicate of it when a worker's `recv`
//!    reports the error or probes go unanswered; the old generation keeps
//!    a lingering worker for its open connections; keep-alive probes keep
//!    `accept()` from reaching the receive timeout. Test:
//!    `recovery::accept_loop_recovers_after_descriptor_exhaustion`.
//!    Always available (it needs no more than the socket it owns).
//! 3. **Connections it cannot close** (`closing`, `sockets`, `own_fd`).
//!    tiny_http offers no way to end a connection after an answer, drops
//!    any `Connection` header, and keeps parsing requests out of bytes
//!    that followed a refused one (request smuggling). Mechanism: the
//!    connection's socket is found by its peer address among the process's
//!    descriptors (`/proc/self/fd`, duplicated with
//!    `fcntl(F_DUPFD_CLOEXEC)`: the crate's one `unsafe` call, in
//!    `own_fd`), shut for reading before the answer (written by this
//!    crate, saying `Connection: close`) and for writing after it; the
//!    peer is *condemned*, so requests tiny_http still parses from bytes
//!    received before are discarded by the worker loop and never reach the
//!    pipeline; an answer written after a refusal on the same connection
//!    reports it ([`Exchange::answer_success`] is `false`). Tests:
//!    `smuggling` (every framing trick, read-ahead, pipelining, descriptors
//!    released), `hostile`, and the same suites under a seccomp filter
//!    that denies `pidfd_getfd` as Docker's default profile does
//!    (`tests/seccomp/`). Unavailable (no `/proc/self/fd`): the answer
//!    still says `Connection: close` and later requests are still
//!    discarded, but the connection stays open until the client closes it
//!    or the read timeout (`TransportStats::protections.close_refused` is
//!    `false`, and the start-up log says so).
//! 4. **Drops that drain** (`closing`). Dropping a tiny_http request reads
//!    the rest of its body first, for as long as the client sends, and
//!    allocates the whole declared remainder at once. Mechanism: a refused
//!    body is drained from a socket already shut for reading (EOF at once)
//!    or on a thread of its own, never on a worker; a declared size is
//!    first tried as an allocation (doubled, never touched) and, when the
//!    machine could not map it, the request is *parked* (kept for good,
//!    counted) instead of aborting the process. Tests: `oversized` (3,000
//!    declared gigabytes; a declaration beyond what the machine can map),
//!    `slow_clients::a_refused_trickler_never_holds_a_worker`. Unavailable:
//!    the drain runs on its own thread until the client stops sending or
//!    the read timeout.
//! 5. **Bodies it cannot time out** (`watch`, `worker`'s `Workforce`).
//!    tiny_http's only timeout is the socket's, per read; a client that
//!    trickles or stalls its body holds a worker. Mechanism: every read
//!    checks the body's deadline ([`Exchange::body`]); the watch thread cuts
//!    a read still waiting at the deadline by shutting the socket's reading
//!    side, and starts spare workers while bodies hold others, so the
//!    configured number stay free (up to `max_workers`). Tests:
//!    `slow_clients`, `starvation` (256 and 1,024 slow connections from
//!    one address, 64 from 16). Unavailable (no socket access): a stalled
//!    read ends at the read timeout (`protections.cut_stalled_bodies` is
//!    `false`); spares still keep workers free.
//! 6. **The listening socket's options** (`listener`). tiny_http takes a
//!    listener as it is: `TCP_NODELAY`, the read timeout (its connections'
//!    only timeout, inherited from the listener), a 4,096 backlog for
//!    bursts and dual-stack `::` are set on it before tiny_http sees it.
//!    Tests: `server`, `burst`. Always available.
//!
//! The module graph inside runs one way: `run` starts everything; `worker`
//! loops over requests (`exchange` wraps each); `supervisor` uses
//! `doorbell`, `generation`, `newcomers` and `notices`; `closing` uses
//! `sockets`, which uses `own_fd`; `watch` depends on nothing of the rest.

mod closing;
mod counters;
mod doorbell;
mod exchange;
mod generation;
mod listener;
mod newcomers;
mod notices;
#[cfg(target_os = "linux")]
mod own_fd;
mod run;
mod sockets;
mod state;
mod supervisor;
mod watch;
mod worker;

pub(crate) use exchange::{Answer, Exchange, Handler, Hire, Method};
pub(crate) use run::{Bound, Report, Stopper, Transport};
pub(crate) use state::Settings;
