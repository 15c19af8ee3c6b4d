//! One worker: take a request, check it, read its body, answer the camera,
//! then parse and deliver.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Sender, TrySendError};
use tiny_http::{HTTPVersion, Method, Request, Response, StatusCode};

use super::callbacks::{guarded, UnparsedReason};
use super::closing::Watched;
use super::config::Overflow;
use super::forwarded;
use super::generation::{retire_after, Generation, Idle};
use super::guard::{self, Framing};
use super::notices::Notice;
use super::pages::Page;
use super::refusal::{header, Answer, Refusal};
use super::shutdown::Leaving;
use super::state::Shared;
use super::stats::bump;
use crate::limits::{MAX_DRAIN_BYTES, MAX_HEADERS, MAX_HEADER_BYTES};
use crate::{parse, Body, Category, Event, Post};

/// The answer every camera post needs.
pub(crate) const SUCCESS_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><config version=\"1.0\" xmlns=\"http://www.ipc.com/ver10\"><status>success</status></config>";

/// What a GET is answered with.
const GET_TEXT: &str = "Viewtron event server running";

/// How often idle workers look at the shutdown flag and the current generation.
const POLL: Duration = Duration::from_millis(200);

fn find_header<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// The path of a request target, in origin or absolute form, without query.
pub(crate) fn target_path(url: &str) -> &str {
    let rest = ["http://", "https://"]
        .iter()
        .find_map(|scheme| {
            url.get(..scheme.len())
                .filter(|p| p.eq_ignore_ascii_case(scheme))
                .map(|_| &url[scheme.len()..])
        })
        .map(|after| after.find('/').map_or("/", |i| &after[i..]))
        .unwrap_or(url);
    rest.split(['?', '#']).next().unwrap_or("/")
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
                target_path(request.url()),
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

    fn handle(&self, mut request: Request) {
        let shared = &*self.shared;
        let remote = request.remote_addr().copied();
        let peer = remote.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip().to_canonical());
        if remote.is_some_and(|r| shared.closer.is_condemned(r)) {
            // Parsed from bytes that followed a refused request on a closed
            // connection: what a smuggler hides in a body. Never served.
            return self.discard(request);
        }
        let path = target_path(request.url());
        let forwarded_for = request
            .headers()
            .iter()
            .filter(|h| h.field.equiv(forwarded::HEADER))
            .map(|h| h.value.as_str());
        let ip = forwarded::camera_ip(peer, forwarded_for, &shared.config.trusted_proxies);
        bump(&shared.counters.requests);
        let allow = &shared.config.allow;
        if !allow.is_empty() && !allow.iter().any(|net| net.contains(ip)) {
            return self.refuse(request, Refusal::Forbidden, ip);
        }
        let header_bytes: usize = request
            .headers()
            .iter()
            .map(|h| h.field.as_str().as_str().len() + h.value.as_str().len())
            .sum();
        if request.headers().len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
            return self.refuse(request, Refusal::TooManyHeaders, ip);
        }
        // Framing is checked for every method: tiny_http would otherwise
        // resolve a doubtful one its own way and read the rest as a request.
        let headers = request
            .headers()
            .iter()
            .map(|h| (h.field.as_str().as_str(), h.value.as_str()));
        let http_1_0 = *request.http_version() == HTTPVersion(1, 0);
        let framing = match guard::framing(headers, http_1_0) {
            Ok(f) => f,
            Err(why) => {
                log::debug!("bad framing from {ip}: {why}");
                return self.refuse(request, Refusal::BadFraming, ip);
            }
        };
        match request.method() {
            Method::Post => {}
            Method::Get | Method::Head => {
                let page = shared
                    .config
                    .pages
                    .answer(path, || shared.counters.snapshot());
                let page = page.unwrap_or_else(|| Page::text(GET_TEXT));
                let answer = Answer {
                    status: page.status(),
                    content_type: page.content_type(),
                    extra: None,
                    body: page.body(),
                };
                // A body on a GET means nothing here; it is not read, so the
                // connection ends after the answer.
                return if framing == Framing::Length(0) {
                    self.respond(request, answer.response())
                } else {
                    self.answer_and_close(request, answer)
                };
            }
            _ => return self.refuse(request, Refusal::MethodNotAllowed, ip),
        }
        let paths = &shared.config.paths;
        if !paths.is_empty() && !paths.iter().any(|p| p == path) {
            return self.refuse(request, Refusal::NotFound, ip);
        }
        if let Some(credentials) = &shared.credentials {
            if !credentials.check(find_header(&request, "Authorization")) {
                return self.refuse(request, Refusal::Unauthorized, ip);
            }
        }
        let max = shared.config.max_body;
        if let Framing::Length(n) = framing {
            if n > max as u64 {
                return self.refuse(request, Refusal::TooLarge, ip);
            }
        }
        // A stalled (read timeout) or vanished peer, or broken chunks: one
        // 400, the connection closed, nothing delivered.
        let broken = |request: Request, e: std::io::Error| {
            log::debug!("incomplete body from {ip}: {e}");
            let why = match e.kind() {
                // The chunk decoder's verdict (also for a body cut short).
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
                    Refusal::BadFraming
                }
                _ => Refusal::IncompleteBody,
            };
            self.refuse(request, why, ip)
        };
        let body = match framing {
            Framing::Length(n) => {
                // Straight into a recycled, initialised buffer: no zeroing.
                let mut buf = shared.pool.take(n as usize);
                if let Err(e) = request.as_reader().read_exact(&mut buf) {
                    return broken(request, e);
                }
                shared.pool.body(buf)
            }
            Framing::Chunked => {
                let mut buf = Vec::new();
                let read = request
                    .as_reader()
                    .take(max as u64 + 1)
                    .read_to_end(&mut buf);
                match read {
                    Err(e) => return broken(request, e),
                    Ok(_) if buf.len() > max => return self.refuse(request, Refusal::TooLarge, ip),
                    Ok(_) => shared.pool.body(buf),
                }
            }
        };
        // The answer notes whether a refusal closed the connection before
        // it was written: then this request followed the refused one.
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
            return;
        }
        self.deliver(body, framing == Framing::Chunked, ip);
    }

    /// Whether the request carries a body (or claims to): then refusing it
    /// leaves bytes unread on its connection.
    fn has_body(request: &Request) -> bool {
        request.headers().iter().any(|h| {
            h.field.equiv("Transfer-Encoding")
                || (h.field.equiv("Content-Length") && h.value.as_str().trim() != "0")
        })
    }

    /// Parses an answered post and hands it to the callbacks and channel.
    fn deliver(&self, body: Body, chunked: bool, ip: IpAddr) {
        let shared = &*self.shared;
        let counters = &shared.counters;
        let cb = &shared.callbacks;
        counters
            .bytes_received
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        let result = if chunked && body.is_empty() {
            Err(UnparsedReason::EmptyChunked)
        } else {
            parse(body.clone()).map_err(UnparsedReason::Malformed)
        };
        let device_name = match &result {
            Ok(post) => post.device().and_then(|d| d.name.as_deref()),
            Err(_) => None,
        };
        if counters.seen(ip, device_name) {
            self.call(
                "on_connect",
                ip,
                cb.on_connect.as_ref().map(|f| move || f(ip)),
            );
        }
        let text = || match body.as_str() {
            Some(s) => Cow::Borrowed(s),
            None => String::from_utf8_lossy(body.as_bytes()),
        };
        let raw = |this: &Self| {
            if !body.is_empty() {
                if let Some(f) = &cb.on_raw {
                    let text = text();
                    this.call("on_raw", ip, Some(|| f(&text, ip)));
                }
            }
        };
        let unparsed = |this: &Self, reason: UnparsedReason| {
            if let Some(f) = &cb.on_unparsed {
                let text = text();
                this.call("on_unparsed", ip, Some(|| f(&text, ip, &reason)));
            }
        };
        match result {
            Ok(Post::Keepalive(_)) => bump(&counters.keepalives),
            Ok(Post::AlarmStatus(status)) => {
                bump(&counters.alarm_statuses);
                raw(self);
                match &cb.on_alarm_status {
                    Some(f) => self.call("on_alarm_status", ip, Some(|| f(status, ip))),
                    None => unparsed(self, UnparsedReason::AlarmStatus),
                }
            }
            Ok(Post::Event(event)) => {
                let category = event.category();
                counters.event(category);
                if category != Category::Traject {
                    raw(self);
                }
                if let Some(f) = &cb.on_event {
                    let copy = shared.channel.then(|| event.clone());
                    self.call("on_event", ip, Some(|| f(event, ip)));
                    if let Some(event) = copy {
                        self.send(event);
                    }
                } else if shared.channel {
                    self.send(event);
                }
            }
            Ok(Post::Unrecognized(u)) => {
                bump(&counters.unrecognized);
                raw(self);
                unparsed(self, UnparsedReason::Unrecognized(u));
            }
            Err(reason) => {
                bump(&counters.parse_errors);
                log::debug!("unparsable post from {ip}: {reason}");
                raw(self);
                unparsed(self, reason);
            }
        }
    }

    fn call(&self, name: &str, ip: IpAddr, f: Option<impl FnOnce()>) {
        if let Some(f) = f {
            if !guarded(name, ip, f) {
                bump(&self.shared.counters.callback_panics);
            }
        }
    }

    /// Queues an event for `events()`, following the overflow policy.
    fn send(&self, event: Event) {
        let counters = &self.shared.counters;
        let may_drop = match self.shared.config.overflow {
            Overflow::Block => false,
            Overflow::DropTraject => event.category() == Category::Traject,
            Overflow::DropNewest => true,
        };
        let Some(tx) = &self.tx else {
            bump(&counters.dropped);
            return;
        };
        let event = match tx.try_send(event) {
            Ok(()) => return,
            Err(TrySendError::Disconnected(_)) => {
                bump(&counters.dropped);
                return;
            }
            Err(TrySendError::Full(event)) => event,
        };
        if may_drop {
            bump(&counters.dropped);
            return;
        }
        log::debug!("events channel full: waiting for the consumer");
        if tx.send(event).is_err() {
            bump(&counters.dropped);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::target_path;

    #[test]
    fn paths_in_origin_and_absolute_form() {
        assert_eq!(target_path("/API"), "/API");
        assert_eq!(target_path("/API?x=1"), "/API");
        assert_eq!(target_path("http://192.168.0.56:5002/API"), "/API");
        assert_eq!(target_path("HTTP://host/API/x?y"), "/API/x");
        assert_eq!(target_path("http://host"), "/");
        assert_eq!(target_path("https://[::1]:80/a"), "/a");
    }
}
