//! One worker: take a request and carry it through the protocol's steps,
//! one function each, in [`Worker::handle`]: admit (who is asking, the head
//! checks), route (pages, methods, the post checks), read the body, answer
//! the camera, then deliver (parse and hand over, in `deliver`). Each step
//! either hands the request on or ends it: answered, refused or discarded.
//!
//! Reading the body is where a client can hold a worker: it is admitted
//! only within its address's cap (`per_address`), against a deadline
//! (`intake`, enforced by `watch`), and a refused body that may still be on
//! its way is never drained by a worker (`intake::elsewhere`).

use std::cell::Cell;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use tiny_http::{Method, Request, Response, StatusCode};

use super::admit;
use super::closing::{self, Watched};
use super::deliver::Delivery;
use super::forwarded;
use super::generation::{retire_after, Generation, Idle};
use super::guard::Framing;
use super::intake;
use super::notices::Notice;
use super::pages::Page;
use super::per_address::Ticket;
use super::refusal::{header, Answer, Refusal};
use super::shutdown::Leaving;
use super::state::Shared;
use super::stats::bump;
use crate::limits::MAX_DRAIN_BYTES;
use crate::{Body, Event};

/// The answer every camera post needs.
pub(crate) const SUCCESS_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><config version=\"1.0\" xmlns=\"http://www.ipc.com/ver10\"><status>success</status></config>";

/// What a GET is answered with.
const GET_TEXT: &str = "Viewtron event server running";

/// How often idle workers look at the shutdown flag and the current generation.
const POLL: Duration = Duration::from_millis(200);

/// How long a spare worker (one started while others were held by slow
/// bodies) stays idle before it ends, when it is no longer needed.
const RETIRE_SPARE: Duration = Duration::from_secs(5);

/// A request that passed step 1 of [`Worker::handle`], with what the
/// following steps need to know about it.
struct Admitted {
    request: Request,
    /// The TCP peer (tiny_http gives none for some sockets).
    remote: Option<SocketAddr>,
    /// The camera: the peer, or the address a trusted proxy names for it.
    ip: IpAddr,
    framing: Framing,
}

pub(crate) struct Worker {
    pub shared: Arc<Shared>,
    tx: Option<Sender<Event>>,
    /// Started by the watch while others were held: ends when idle and no
    /// longer needed.
    spare: bool,
}

impl Worker {
    pub fn new(shared: Arc<Shared>) -> Worker {
        let tx = shared.tx.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Worker {
            shared,
            tx,
            spare: false,
        }
    }

    /// A spare worker (see `spares`).
    pub fn spare(shared: Arc<Shared>) -> Worker {
        Worker {
            spare: true,
            ..Worker::new(shared)
        }
    }

    /// A pool worker: serves whichever generation is current.
    pub fn run(self) {
        let shared = &*self.shared;
        let leaving = Leaving {
            shared,
            drain: |generation: &Generation| self.drain(generation),
        };
        let mut idle = Idle::new();
        while !shared.stopping.load(Ordering::SeqCst) {
            let Some(generation) = shared.current.get() else {
                break;
            };
            match generation.http.recv_timeout(POLL) {
                Ok(Some(request)) => {
                    self.take(&generation, request);
                    idle.reset();
                }
                Ok(None) => {
                    let needed = shared.config.workers + shared.watch.stuck();
                    if self.spare
                        && idle.longer_than(RETIRE_SPARE)
                        && shared.live_workers.load(Ordering::SeqCst) > needed
                    {
                        break;
                    }
                }
                Err(e) => {
                    if !shared.stopping.load(Ordering::SeqCst)
                        && !generation.dead.swap(true, Ordering::SeqCst)
                    {
                        log::error!("the HTTP accept loop stopped: {e}");
                        let _ = shared.notices.send(Notice::Dead(generation.id));
                    }
                }
            }
        }
        drop(leaving);
    }

    /// Serves a dead generation's remaining connections until they go quiet.
    pub fn linger(self, generation: Arc<Generation>) {
        let retire = retire_after(self.shared.config.read_timeout);
        let mut idle = Idle::new();
        loop {
            if self.shared.stopping.load(Ordering::SeqCst) {
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
    fn drain(&self, generation: &Generation) {
        let mut misses = 0;
        while misses <= self.shared.config.workers {
            match generation.http.try_recv() {
                Ok(Some(request)) => self.take(generation, request),
                _ => misses += 1,
            }
        }
    }

    fn take(&self, generation: &Generation, request: Request) {
        generation.served.fetch_add(1, Ordering::Relaxed);
        if let Some(&peer) = request.remote_addr() {
            if self.shared.newcomers.request(peer) {
                let _ = self.shared.notices.send(Notice::Newcomer);
            }
        }
        self.shared.busy.fetch_add(1, Ordering::SeqCst);
        self.handle(request);
        self.shared.busy.fetch_sub(1, Ordering::SeqCst);
    }

    fn respond<R: Read>(&self, request: Request, response: Response<R>) {
        if let Err(e) = request.respond(response) {
            log::debug!("could not answer: {e}");
        }
    }

    /// Refuses a request. One with a body (or framing in doubt) is answered
    /// with `Connection: close` and its connection ended without reading
    /// the body; a request without a body keeps its connection.
    fn refuse(&self, request: Request, why: Refusal, ip: IpAddr) {
        let shared = &*self.shared;
        shared.counters.refusal(why);
        if let Some(suppressed) = shared.refusal_log.allow() {
            // The path only: no query string, no user info, control
            // characters escaped. Request headers are never logged.
            log::warn!(
                "refused {} {:?} from {ip}: {} {} ({suppressed} more refusals not logged)",
                request.method(),
                admit::target_path(request.url()),
                why.status(),
                why
            );
        }
        let close = matches!(
            why,
            Refusal::BadFraming | Refusal::IncompleteBody | Refusal::BodyTimeout
        ) || Self::has_body(&request);
        if close {
            self.answer_and_close(request, why.answer());
        } else {
            self.respond(request, why.answer().response());
        }
    }

    /// Answers and ends the connection (see [`Closer::answer_and_close`](super::closing::Closer::answer_and_close)).
    /// A declared body too large for tiny_http to drain at all keeps its
    /// connection parked instead (see [`closing::releasable`]).
    ///
    /// Without the socket, tiny_http drains what is left of the body when the
    /// request is dropped, for as long as the client keeps sending it (until
    /// it closes, or the read timeout): then that happens on a thread of its
    /// own, never on a worker.
    fn answer_and_close(&self, request: Request, answer: Answer) {
        let closer = &self.shared.closer;
        let bytes = answer.closing(*request.method() == Method::Head);
        if closing::releasable(declared(&request)) {
            if intake::body_in_memory(&request) {
                closer.answer_and_close(request, &bytes);
            } else if let Some(socket) = request.remote_addr().and_then(|p| closer.socket(*p)) {
                closer.answer_and_close_on(request, &bytes, Some(socket));
            } else {
                let shared = self.shared.clone();
                intake::elsewhere(request, move |request| {
                    shared.closer.answer_and_close_on(request, &bytes, None);
                });
            }
            return;
        }
        bump(&self.shared.counters.parked);
        closer.answer_and_park(request, &bytes, |request| {
            // No socket access: tiny_http answers (it cannot say
            // `Connection: close`) and the request is kept for good.
            std::mem::forget(request.upgrade("close", answer.response()));
        });
    }

    /// Drops a request from a condemned connection: no answer, no delivery.
    /// Its socket was shut when the connection was condemned (when it could
    /// be reached), so the drain meets EOF at once; otherwise it runs where
    /// it cannot hold a worker.
    fn discard(&self, request: Request) {
        bump(&self.shared.counters.discarded);
        if !closing::releasable(declared(&request)) {
            bump(&self.shared.counters.parked);
            std::mem::forget(request);
        } else if declared(&request) <= MAX_DRAIN_BYTES {
            drop(request.into_writer());
        } else {
            intake::elsewhere(request, |request| drop(request.into_writer()));
        }
    }

    /// One request, step by step; each step either hands the request on or
    /// ends it (answered, refused or discarded).
    fn handle(&self, request: Request) {
        let Some(admitted) = self.admit(request) else {
            return;
        };
        let Some(post) = self.route(admitted) else {
            return;
        };
        let Some((post, body, ticket)) = self.read_body(post) else {
            return;
        };
        let Admitted {
            request,
            remote,
            ip,
            framing,
            ..
        } = post;
        // The camera's order, taken before the answer (its next post comes
        // after it), waited for after it (see `order`).
        let mut turn = self.shared.order.take(ip);
        let answered = self.answer(request, remote);
        // Answered: no longer in progress (delivery does not count).
        drop(ticket);
        if !answered {
            return;
        }
        let delivery = Delivery {
            shared: &self.shared,
            tx: self.tx.as_ref(),
        };
        turn.wait();
        delivery.deliver(body, framing == Framing::Chunked, ip);
        drop(turn);
    }

    /// Step 1: who is asking, and may they; the head checks of
    /// [`admit::head`] for every method. A request parsed from bytes that
    /// followed a refused one on a closed connection (what a smuggler hides
    /// in a body) is discarded here, never served.
    fn admit(&self, request: Request) -> Option<Admitted> {
        let shared = &*self.shared;
        let remote = request.remote_addr().copied();
        if remote.is_some_and(|r| shared.closer.is_condemned(r)) {
            self.discard(request);
            return None;
        }
        let peer = remote.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip().to_canonical());
        let forwarded_for = request
            .headers()
            .iter()
            .filter(|h| h.field.equiv(forwarded::HEADER))
            .map(|h| h.value.as_str());
        let ip = forwarded::camera_ip(peer, forwarded_for, &shared.config.trusted_proxies);
        bump(&shared.counters.requests);
        match admit::head(&shared.config, &request, ip) {
            Ok(framing) => Some(Admitted {
                request,
                remote,
                ip,
                framing,
            }),
            Err(why) => {
                self.refuse(request, why, ip);
                None
            }
        }
    }

    /// Step 2: a `GET` or `HEAD` is answered here (a page, or the running
    /// text); other methods are refused; a `POST` goes on once
    /// [`admit::post`] passes (path, credentials, declared size).
    fn route(&self, admitted: Admitted) -> Option<Admitted> {
        let shared = &*self.shared;
        let Admitted {
            request,
            ip,
            framing,
            ..
        } = &admitted;
        let path = admit::target_path(request.url());
        let checked = match request.method() {
            Method::Post => admit::post(
                &shared.config,
                shared.credentials.as_ref(),
                request,
                path,
                *framing,
            ),
            Method::Get | Method::Head => {
                let page = shared.config.pages.answer(path, || shared.stats());
                self.page(admitted, page.unwrap_or_else(|| Page::text(GET_TEXT)));
                return None;
            }
            _ => Err(Refusal::MethodNotAllowed),
        };
        match checked {
            Ok(()) => Some(admitted),
            Err(why) => {
                let ip = *ip;
                self.refuse(admitted.request, why, ip);
                None
            }
        }
    }

    /// Answers a `GET` or `HEAD` with a page. A body on one means nothing
    /// here; it is not read, so the connection ends after the answer.
    fn page(&self, admitted: Admitted, page: Page) {
        let answer = Answer {
            status: page.status(),
            content_type: page.content_type(),
            extra: None,
            body: page.body(),
        };
        if admitted.framing == Framing::Length(0) {
            self.respond(admitted.request, answer.response());
        } else {
            self.answer_and_close(admitted.request, answer);
        }
    }

    /// Step 3: the body. It counts against its address's cap of requests
    /// in progress from here until answered (beyond the cap: `429`, the body
    /// never read), and must be complete by its deadline, which runs from
    /// now (the head is complete: tiny_http read it before handing the
    /// request over). Every read checks the deadline; the watch cuts a read
    /// still waiting at it, and starts spare workers while this one is held.
    /// Too slow: `408`; a vanished peer or broken chunks: `400`; a chunked
    /// body past `max_body`: `413`; each closes the connection, nothing is
    /// delivered.
    fn read_body(&self, mut post: Admitted) -> Option<(Admitted, Body, Ticket<'_>)> {
        let shared = &*self.shared;
        let Some(ticket) = shared.per_address.enter(post.ip) else {
            self.refuse(post.request, Refusal::PerAddressCap, post.ip);
            return None;
        };
        let deadline = Instant::now() + shared.config.body_timeout;
        let reading = shared.watch.reading(post.remote, deadline);
        let read = intake::read_body(
            &mut post.request,
            post.framing,
            deadline,
            &shared.pool,
            shared.config.max_body,
        );
        drop(reading);
        let why = match read {
            Ok(Some(body)) => return Some((post, body, ticket)),
            Ok(None) => Refusal::TooLarge,
            // Past the deadline, or a read waited the whole read timeout.
            Err(e) if Instant::now() >= deadline || e.kind() == io::ErrorKind::WouldBlock => {
                log::debug!("body from {} not received in time: {e}", post.ip);
                Refusal::BodyTimeout
            }
            Err(e) => {
                log::debug!("incomplete body from {}: {e}", post.ip);
                match e.kind() {
                    // The chunk decoder's verdict (also for a body cut short).
                    io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => Refusal::BadFraming,
                    _ => Refusal::IncompleteBody,
                }
            }
        };
        self.refuse(post.request, why, post.ip);
        None
    }

    /// Step 4: the camera's `200`, in one write. `false` when a refusal had
    /// already closed the connection before it was written: then this
    /// request followed the refused one, and is not delivered.
    fn answer(&self, request: Request, remote: Option<SocketAddr>) -> bool {
        let shared = &*self.shared;
        let condemned = Cell::new(false);
        let watched = Watched::new(SUCCESS_XML.as_bytes(), &shared.closer, remote, &condemned);
        // tiny_http writes a body with `io::copy`, which zeroes its whole
        // 8 KiB buffer before a reader of ours may fill it (8.4k
        // instructions, a fifth of the bare ceiling's whole post); `take`
        // hands the reader only as many bytes as the answer has.
        let response = Response::new(
            StatusCode(200),
            vec![header("Content-Type", "application/xml")],
            watched.take(SUCCESS_XML.len() as u64),
            Some(SUCCESS_XML.len()),
            None,
        );
        self.respond(request, response);
        if condemned.get() {
            bump(&shared.counters.discarded);
            return false;
        }
        true
    }

    /// Whether the request carries a body (or claims to): then refusing it
    /// leaves bytes unread on its connection.
    fn has_body(request: &Request) -> bool {
        request.headers().iter().any(|h| {
            h.field.equiv("Transfer-Encoding")
                || (h.field.equiv("Content-Length") && h.value.as_str().trim() != "0")
        })
    }
}

/// The body length a request declares (`Content-Length`), 0 without one.
fn declared(request: &Request) -> u64 {
    request.body_length().map_or(0, |n| n as u64)
}
