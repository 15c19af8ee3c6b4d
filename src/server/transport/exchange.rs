//! The interface the request pipeline sees: one request and the ways to
//! answer it. Nothing of tiny_http shows through it, so the pipeline reads
//! as HTTP, and whatever replaces tiny_http one day only has to give these.
//!
//! An [`Exchange`] is consumed by exactly one answer:
//! [`answer_success`](Exchange::answer_success) (the camera's `200`),
//! [`answer`](Exchange::answer) (the connection stays open) or
//! [`answer_and_close`](Exchange::answer_and_close) (nothing the client
//! sent after the head is ever read as a request). Its body is read through
//! [`body`](Exchange::body), against a deadline the transport enforces even
//! on a read that is waiting.

use std::cell::Cell;
use std::io::{self, Cursor, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tiny_http::{HTTPVersion, Header, Request, Response, StatusCode};

use super::closing::{self, Closer, Watched};
use super::counters::Counters;
use super::watch::{Deadline, Reading, Watch};

/// What the transport hands each request to: one per worker thread, made
/// just before the thread starts and dropped when it leaves (so what it
/// holds, such as an events sender, lives exactly as long as its worker).
pub(crate) type Handler = Box<dyn for<'t> FnMut(Exchange<'t>) + Send>;

/// Makes a [`Handler`] for each worker thread the transport starts.
pub(crate) type Hire = Box<dyn Fn() -> Handler + Send + Sync>;

/// A request's method, as far as the pipeline tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
    Post,
    Other,
}

/// One request from a client, taken from tiny_http by a worker, with the
/// parts of the transport its answer needs.
pub(crate) struct Exchange<'t> {
    request: Request,
    /// The TCP peer (tiny_http gives none for some sockets).
    peer: Option<SocketAddr>,
    closer: &'t Arc<Closer>,
    watch: &'t Watch,
    counters: &'t Counters,
}

impl<'t> Exchange<'t> {
    pub(super) fn new(
        request: Request,
        closer: &'t Arc<Closer>,
        watch: &'t Watch,
        counters: &'t Counters,
    ) -> Exchange<'t> {
        let peer = request.remote_addr().copied();
        Exchange {
            request,
            peer,
            closer,
            watch,
            counters,
        }
    }

    /// The TCP peer, when the socket has one.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    pub fn method(&self) -> Method {
        match self.request.method() {
            tiny_http::Method::Get => Method::Get,
            tiny_http::Method::Head => Method::Head,
            tiny_http::Method::Post => Method::Post,
            _ => Method::Other,
        }
    }

    /// The method as the client wrote it (for logs).
    pub fn method_name(&self) -> &str {
        self.request.method().as_str()
    }

    /// The request target, as sent.
    pub fn target(&self) -> &str {
        self.request.url()
    }

    /// Whether the request line says `HTTP/1.0`.
    pub fn http_1_0(&self) -> bool {
        *self.request.http_version() == HTTPVersion(1, 0)
    }

    /// The header fields, names and values as sent, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.request
            .headers()
            .iter()
            .map(|h| (h.field.as_str().as_str(), h.value.as_str()))
    }

    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// The body, read at the client's pace until `deadline`: every read
    /// checks it first, and the transport cuts a read still waiting at it
    /// (where it can reach the socket; at the read timeout otherwise).
    /// While the body is read, the transport counts this worker as held and
    /// starts spares so that others stay free.
    pub fn body(&mut self, deadline: Instant) -> Body<'_> {
        let reading = self.watch.reading(self.peer, deadline);
        Body {
            inner: Deadline::new(self.request.as_reader(), deadline),
            _reading: reading,
        }
    }

    /// Writes the camera's `200` with `body`, in one write. `false` when a
    /// refusal of an earlier request on the same connection had closed it by
    /// then: this request followed the refused one (a smuggler's), and must
    /// not be delivered.
    pub fn answer_success(self, content_type: &str, body: &[u8]) -> bool {
        let condemned = Cell::new(false);
        let watched = Watched::new(body, self.closer, self.peer, &condemned);
        // tiny_http writes a body with `io::copy`, which zeroes its whole
        // 8 KiB buffer before a reader of ours may fill it (8.4k
        // instructions, a fifth of the bare ceiling's whole post); `take`
        // hands the reader only as many bytes as the answer has.
        let response = Response::new(
            StatusCode(200),
            vec![header("Content-Type", content_type)],
            watched.take(body.len() as u64),
            Some(body.len()),
            None,
        );
        respond(self.request, response);
        if condemned.get() {
            self.counters.discard();
            return false;
        }
        true
    }

    /// Answers and keeps the connection open. Only for a request without a
    /// body (or whose body was read): otherwise the unread bytes would be
    /// taken for the next request.
    pub fn answer(self, answer: Answer<'_>) {
        respond(self.request, answer.response());
    }

    /// Answers with `Connection: close` and ends the connection without
    /// reading anything more from it: the one step every refusal takes when
    /// it leaves bytes unread (see [`closing`]). An unread body is never
    /// drained by the worker: by the socket shut for reading (EOF at once),
    /// or else on a thread of its own. A declared body too large for
    /// tiny_http to drain at all keeps its connection parked instead (see
    /// [`closing::releasable`]).
    pub fn answer_and_close(self, answer: Answer<'_>) {
        let bytes = answer.closing(self.method() == Method::Head);
        let closer = self.closer;
        let request = self.request;
        if !closing::releasable(closing::declared(&request)) {
            self.counters.park();
            closer.answer_and_park(request, &bytes, |request| {
                // No socket access: tiny_http answers (it cannot say
                // `Connection: close`) and the request is kept for good.
                std::mem::forget(request.upgrade("close", answer.response()));
            });
            return;
        }
        if closing::body_in_memory(&request) {
            closer.answer_and_close(request, &bytes);
        } else if let Some(socket) = self.peer.and_then(|p| closer.socket(p)) {
            closer.answer_and_close_on(request, &bytes, Some(socket));
        } else {
            let closer = closer.clone();
            closing::elsewhere(request, move |request| {
                closer.answer_and_close_on(request, &bytes, None);
            });
        }
    }
}

/// A request's body, read against its deadline; dropping it ends the
/// transport's watch on the read.
pub(crate) struct Body<'e> {
    inner: Deadline<&'e mut dyn Read>,
    _reading: Reading<'e>,
}

impl Read for Body<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

/// A short answer, written either by tiny_http (the connection stays open)
/// or by this crate (the connection ends: [`closing`](Answer::closing)).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answer<'a> {
    pub status: u16,
    pub content_type: &'a str,
    pub extra: Option<(&'a str, &'a str)>,
    pub body: &'a str,
}

impl Answer<'_> {
    /// For tiny_http to write (without any `Connection` header: it drops them).
    fn response(self) -> Response<Cursor<Vec<u8>>> {
        let mut response = Response::from_string(self.body)
            .with_status_code(StatusCode(self.status))
            .with_header(header("Content-Type", self.content_type()));
        if let Some((name, value)) = self.extra {
            response.add_header(header(name, value));
        }
        response
    }

    /// The content type, or `text/plain` if it could not be a header value
    /// (a user's page could give anything).
    fn content_type(&self) -> &str {
        let valid = self
            .content_type
            .bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
        if valid && !self.content_type.is_empty() {
            self.content_type
        } else {
            "text/plain"
        }
    }

    /// The complete answer as bytes, with `Date` and `Connection: close`;
    /// the body is left out for a `HEAD`. Written by this crate, not by
    /// tiny_http: tiny_http 0.12 silently drops a `Connection` header from
    /// any response, and a client must be told that the connection ends.
    pub fn closing(self, head: bool) -> Vec<u8> {
        let reason = StatusCode(self.status).default_reason_phrase();
        let mut out = Vec::with_capacity(256 + self.body.len());
        let _ = write!(
            out,
            "HTTP/1.1 {} {reason}\r\nDate: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            httpdate::fmt_http_date(SystemTime::now()),
            self.content_type(),
            self.body.len()
        );
        if let Some((name, value)) = self.extra {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !head {
            out.extend_from_slice(self.body.as_bytes());
        }
        out
    }
}

fn respond<R: Read>(request: Request, response: Response<R>) {
    if let Err(e) = request.respond(response) {
        log::debug!("could not answer: {e}");
    }
}

/// A header from static text.
fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("header text is checked")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal_like(extra: Option<(&'static str, &'static str)>) -> Answer<'static> {
        Answer {
            status: 401,
            content_type: "text/plain; charset=utf-8",
            extra,
            body: "authentication required\n",
        }
    }

    #[test]
    fn closing_answers_say_so() {
        let answer = refusal_like(Some(("WWW-Authenticate", "Basic realm=\"viewtron\"")));
        let answer = String::from_utf8(answer.closing(false)).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 401 Unauthorized\r\nDate: "),
            "{answer}"
        );
        assert!(answer.contains("\r\nConnection: close\r\n"), "{answer}");
        assert!(answer.contains("\r\nWWW-Authenticate: Basic realm=\"viewtron\"\r\n"));
        assert!(answer.contains("\r\nContent-Length: 24\r\n"), "{answer}");
        assert!(
            answer.ends_with("\r\n\r\nauthentication required\n"),
            "{answer}"
        );
        let head = String::from_utf8(refusal_like(None).closing(true)).unwrap();
        assert!(head.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{head}");
        assert!(
            head.ends_with("Connection: close\r\n\r\n"),
            "HEAD gets no body: {head}"
        );
    }

    #[test]
    fn an_unusable_content_type_becomes_text_plain() {
        let answer = Answer {
            content_type: "text/html\r\nSet-Cookie: x",
            ..refusal_like(None)
        };
        let text = String::from_utf8(answer.closing(false)).unwrap();
        assert!(text.contains("\r\nContent-Type: text/plain\r\n"), "{text}");
    }
}
