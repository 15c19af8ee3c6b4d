//! One worker: take a request and carry it through the protocol's steps,
//! one function each, in [`Worker::handle`]: admit (who is asking, the head
//! checks), route (pages, methods, the post checks), read the body, answer
//! the camera, then deliver (parse and hand over, in `deliver`). Each step
//! either hands the request on or ends it: answered, refused or discarded.

use std::cell::Cell;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;
use tiny_http::{Method, Request, Response, StatusCode};

use super::admit;
use super::closing::Watched;
use super::deliver::Delivery;
use super::forwarded;
use super::generation::{retire_after, Generation, Idle};
use super::guard::Framing;
use super::notices::Notice;
use super::pages::Page;
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
}

impl Worker {
    pub fn new(shared: Arc<Shared>) -> Worker {
        let tx = shared.tx.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Worker { shared, tx }
    }

    /// A pool worker: serves whichever generation is current.
    pub fn run(self) {
        let shared = &*self.shared;
        let leaving = Leaving {
            shared,
            drain: |generation: &Generation| self.drain(generation),
        };
        while !shared.stopping.load(Ordering::SeqCst) {
            let Some(generation) = shared.current.get() else {
                break;
            };
            match generation.http.recv_timeout(POLL) {
                Ok(Some(request)) => self.take(&generation, request),
                Ok(None) => {}
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
        let close = matches!(why, Refusal::BadFraming | Refusal::IncompleteBody)
            || Self::has_body(&request);
        if close {
            self.answer_and_close(request, why.answer());
        } else {
            self.respond(request, why.answer().response());
        }
    }

    /// Answers and ends the connection (see [`Closer::answer_and_close`]).
    /// A declared body too large for tiny_http to drain safely keeps its
    /// connection parked instead.
    fn answer_and_close(&self, request: Request, answer: Answer) {
        let closer = &self.shared.closer;
        let bytes = answer.closing(*request.method() == Method::Head);
        if request.body_length().map_or(0, |n| n as u64) <= MAX_DRAIN_BYTES {
            closer.answer_and_close(request, &bytes);
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
    fn discard(&self, request: Request) {
        bump(&self.shared.counters.discarded);
        if request.body_length().map_or(0, |n| n as u64) <= MAX_DRAIN_BYTES {
            drop(request.into_writer());
        } else {
            bump(&self.shared.counters.parked);
            std::mem::forget(request);
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
        let Some((post, body)) = self.read_body(post) else {
            return;
        };
        let Admitted {
            request,
            remote,
            ip,
            framing,
            ..
        } = post;
        if !self.answer(request, remote) {
            return;
        }
        let delivery = Delivery {
            shared: &self.shared,
            tx: self.tx.as_ref(),
        };
        delivery.deliver(body, framing == Framing::Chunked, ip);
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
                let page = shared
                    .config
                    .pages
                    .answer(path, || shared.counters.snapshot());
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

    /// Step 3: the body, into a recycled buffer. A stalled (read timeout) or
    /// vanished peer, or broken chunks: one `400`, the connection closed,
    /// nothing delivered; a chunked body past `max_body`: `413`.
    fn read_body(&self, mut post: Admitted) -> Option<(Admitted, Body)> {
        let shared = &*self.shared;
        let max = shared.config.max_body;
        let read = match post.framing {
            Framing::Length(n) => {
                // Straight into a recycled, initialised buffer: no zeroing.
                let mut buf = shared.pool.take(n as usize);
                post.request
                    .as_reader()
                    .read_exact(&mut buf)
                    .map(|()| Some(buf))
            }
            Framing::Chunked => {
                let mut buf = Vec::new();
                post.request
                    .as_reader()
                    .take(max as u64 + 1)
                    .read_to_end(&mut buf)
                    .map(|_| (buf.len() <= max).then_some(buf))
            }
        };
        let why = match read {
            Ok(Some(buf)) => return Some((post, shared.pool.body(buf))),
            Ok(None) => Refusal::TooLarge,
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
        let response = Response::new(
            StatusCode(200),
            vec![header("Content-Type", "application/xml")],
            watched,
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
