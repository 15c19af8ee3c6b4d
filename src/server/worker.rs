//! One worker: take a request, read its body, answer the camera, then parse
//! and deliver.

use std::borrow::Cow;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use crossbeam_channel::{Sender, TrySendError};
use tiny_http::{Header, Method, Request, Response, StatusCode};

use super::callbacks::{guarded, Callbacks};
use super::config::Config;
use super::stats::{bump, Counters};
use super::{Overflow, UnparsedReason};
use crate::{parse, Body, Category, Event, Post};

/// The answer every camera post needs.
pub(crate) const SUCCESS_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><config version=\"1.0\" xmlns=\"http://www.ipc.com/ver10\"><status>success</status></config>";

/// What a GET is answered with.
const GET_TEXT: &str = "Viewtron event server running";

/// State shared by the server handle, its workers and shutdown handles.
pub(crate) struct Shared {
    pub config: Config,
    pub callbacks: Callbacks,
    pub counters: Counters,
    pub stopping: AtomicBool,
    /// Workers still running.
    pub live_workers: AtomicUsize,
    pub http: Weak<tiny_http::Server>,
    /// Whether events go to the channel.
    pub channel: bool,
}

impl Shared {
    /// Asks every worker to finish: each gets one wake-up after the
    /// requests already queued.
    pub fn stop(&self) {
        if !self.stopping.swap(true, Ordering::SeqCst) {
            log::debug!("shutting down");
            if let Some(http) = self.http.upgrade() {
                for _ in 0..self.config.workers {
                    http.unblock();
                }
            }
        }
    }
}

pub(crate) struct Worker {
    pub http: Arc<tiny_http::Server>,
    pub shared: Arc<Shared>,
    pub tx: Sender<Event>,
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("static header is valid")
}

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

impl Worker {
    pub fn run(self) {
        loop {
            match self.http.recv() {
                Ok(request) => self.handle(request),
                Err(_) if self.shared.stopping.load(Ordering::SeqCst) => break,
                Err(e) => log::error!("the HTTP listener failed: {e}"),
            }
        }
        // Each worker consumed exactly one wake-up. The last one out answers
        // the requests that arrived after the wake-ups were queued (it must
        // be the last: `try_recv` would swallow another worker's wake-up).
        if self.shared.live_workers.fetch_sub(1, Ordering::SeqCst) == 1 {
            while let Ok(Some(request)) = self.http.try_recv() {
                self.handle(request);
            }
        }
    }

    fn respond<R: Read>(&self, request: Request, response: Response<R>) {
        if let Err(e) = request.respond(response) {
            log::debug!("could not answer: {e}");
        }
    }

    fn refuse(&self, request: Request, status: u16, text: &str, ip: IpAddr) {
        bump(&self.shared.counters.refused);
        log::debug!(
            "refused {} {} from {ip}: {status}",
            request.method(),
            request.url()
        );
        let mut response = Response::from_string(text).with_status_code(StatusCode(status));
        if status == 405 {
            response.add_header(header("Allow", "GET, HEAD, POST"));
        }
        self.respond(request, response);
    }

    fn handle(&self, mut request: Request) {
        let shared = &*self.shared;
        bump(&shared.counters.requests);
        let ip = request
            .remote_addr()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip().to_canonical());
        match request.method() {
            Method::Post => {}
            Method::Get | Method::Head => {
                let response = Response::from_string(GET_TEXT)
                    .with_header(header("Content-Type", "text/plain; charset=utf-8"));
                return self.respond(request, response);
            }
            _ => return self.refuse(request, 405, "method not allowed\n", ip),
        }
        let paths = &shared.config.paths;
        if !paths.is_empty() && !paths.iter().any(|p| p == target_path(request.url())) {
            return self.refuse(request, 404, "no such path\n", ip);
        }
        let max = shared.config.max_body;
        if request.body_length().is_some_and(|n| n > max) {
            return self.refuse(request, 413, "body too large\n", ip);
        }
        let chunked = find_header(&request, "Transfer-Encoding").is_some();
        let mut body = Vec::with_capacity(request.body_length().unwrap_or(0));
        let read = request
            .as_reader()
            .take(max as u64 + 1)
            .read_to_end(&mut body);
        if let Err(e) = read {
            log::debug!("incomplete body from {ip}: {e}");
            bump(&shared.counters.refused);
            return; // the peer is gone or broke framing; tiny_http closes it
        }
        if body.len() > max {
            return self.refuse(request, 413, "body too large\n", ip);
        }
        let response = Response::from_string(SUCCESS_XML)
            .with_header(header("Content-Type", "application/xml"));
        self.respond(request, response);
        self.deliver(body, chunked, ip);
    }

    /// Parses an answered post and hands it to the callbacks and channel.
    fn deliver(&self, body: Vec<u8>, chunked: bool, ip: IpAddr) {
        let shared = &*self.shared;
        let counters = &shared.counters;
        let cb = &shared.callbacks;
        counters
            .bytes_received
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        let body = Body::from(body);
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
                unparsed(self, UnparsedReason::Unrecognized(u.reason));
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
        let event = match self.tx.try_send(event) {
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
        if self.tx.send(event).is_err() {
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
