//! The request pipeline: each request the transport hands over, carried
//! through the protocol's steps, one function each, in [`Stages::handle`]:
//! admit (who is asking, the head checks), route (pages, methods, the post
//! checks), read the body, answer the camera, then deliver (parse and hand
//! over). Each step either hands the request on or ends it: answered or
//! refused.
//!
//! Each stage owns what it needs ([`Admission`], [`Intake`], [`Order`],
//! [`Delivery`]); the counters are shared by all of them. Reading the body
//! is where a client can hold a worker: it is admitted only within its
//! address's cap and against a deadline (`intake`), which the transport
//! enforces even on a read that is waiting.

use std::net::IpAddr;
use std::sync::Arc;

use crossbeam_channel::Sender;

use super::admit::{self, Admission};
use super::deliver::Delivery;
use super::intake::Intake;
use super::order::Order;
use crate::server::callbacks::Callbacks;
use crate::server::config::Config;
use crate::server::guard::{Framing, LogLimiter};
use crate::server::pages::{Page, Pages};
use crate::server::refusal::Refusal;
use crate::server::stats::{bump, Counters, Stats};
use crate::server::transport::{Answer, Exchange, Handler, Method, Report};
use crate::Event;

/// The answer every camera post needs.
pub(crate) const SUCCESS_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><config version=\"1.0\" xmlns=\"http://www.ipc.com/ver10\"><status>success</status></config>";

/// What a GET is answered with.
const GET_TEXT: &str = "Viewtron event server running";

/// The stages, shared by every worker.
pub(crate) struct Pipeline {
    admission: Admission,
    pages: Pages,
    intake: Intake,
    /// Each camera's posts delivered in the order they arrived.
    order: Order,
    delivery: Delivery,
    counters: Counters,
    refusal_log: LogLimiter,
    /// The transport's own counters, for `stats()`.
    transport: Report,
}

impl Pipeline {
    pub fn new(
        config: &Config,
        callbacks: Callbacks,
        channel: bool,
        tx: Sender<Event>,
        transport: Report,
    ) -> Pipeline {
        Pipeline {
            admission: Admission::new(config),
            pages: config.pages.clone(),
            intake: Intake::new(config),
            order: Order::default(),
            delivery: Delivery::new(callbacks, channel, config.overflow, tx),
            counters: Counters::default(),
            refusal_log: LogLimiter::default(),
            transport,
        }
    }

    /// A handler for one worker thread: the stages, and the worker's own
    /// events sender, dropped when the worker leaves.
    pub fn handler(self: &Arc<Pipeline>) -> Handler {
        let stages = Stages {
            pipeline: self.clone(),
            tx: self.delivery.sender(),
        };
        Box::new(move |exchange| stages.handle(exchange))
    }

    /// Drops the events channel's own sender (shutdown, step 2).
    pub fn close_channel(&self) {
        self.delivery.close();
    }

    pub fn callbacks(&self) -> &Callbacks {
        &self.delivery.callbacks
    }

    /// The counters, the requests in progress now, and the transport's part.
    pub fn stats(&self) -> Stats {
        let mut stats = self.counters.snapshot();
        stats.in_progress = self.intake.per_address.total() as u64;
        stats.discarded = self.transport.discarded();
        stats.transport = self.transport.stats();
        stats
    }
}

/// One worker's pipeline.
struct Stages {
    pipeline: Arc<Pipeline>,
    tx: Option<Sender<Event>>,
}

/// A request that passed step 1, with what the following steps need to
/// know about it.
struct Admitted<'t> {
    exchange: Exchange<'t>,
    /// The camera: the peer, or the address a trusted proxy names for it.
    ip: IpAddr,
    framing: Framing,
}

impl Stages {
    /// One request, step by step; each step either hands the request on or
    /// ends it (answered or refused).
    fn handle(&self, exchange: Exchange<'_>) {
        let Some(admitted) = self.admit(exchange) else {
            return;
        };
        let Some(post) = self.route(admitted) else {
            return;
        };
        let Admitted {
            mut exchange,
            ip,
            framing,
        } = post;
        // Step 3: the body.
        let (body, ticket) = match self.pipeline.intake.read(&mut exchange, ip, framing) {
            Ok(read) => read,
            Err(why) => return self.refuse(exchange, why, ip),
        };
        // The camera's order, taken before the answer (its next post comes
        // after it), waited for after it (see `order`).
        let mut turn = self.pipeline.order.take(ip);
        // Step 4: the camera's `200`, in one write; not delivered when a
        // refusal had closed the connection before it was written (this
        // request followed the refused one).
        let answered = exchange.answer_success("application/xml", SUCCESS_XML.as_bytes());
        // Answered: no longer in progress (delivery does not count).
        drop(ticket);
        if !answered {
            return;
        }
        // Step 5.
        turn.wait();
        let pipeline = &*self.pipeline;
        pipeline
            .delivery
            .to(&pipeline.counters, self.tx.as_ref())
            .deliver(body, framing == Framing::Chunked, ip);
        drop(turn);
    }

    /// Step 1: who is asking, and may they; the head checks of
    /// [`Admission::head`] for every method.
    fn admit<'t>(&self, exchange: Exchange<'t>) -> Option<Admitted<'t>> {
        let admission = &self.pipeline.admission;
        let ip = admission.camera_ip(&exchange);
        bump(&self.pipeline.counters.requests);
        match admission.head(&exchange, ip) {
            Ok(framing) => Some(Admitted {
                exchange,
                ip,
                framing,
            }),
            Err(why) => {
                self.refuse(exchange, why, ip);
                None
            }
        }
    }

    /// Step 2: a `GET` or `HEAD` is answered here (a page, or the running
    /// text); other methods are refused; a `POST` goes on once
    /// [`Admission::post`] passes (path, credentials, declared size).
    fn route<'t>(&self, admitted: Admitted<'t>) -> Option<Admitted<'t>> {
        let pipeline = &*self.pipeline;
        let Admitted {
            exchange,
            ip,
            framing,
        } = &admitted;
        let path = admit::target_path(exchange.target());
        let checked = match exchange.method() {
            Method::Post => pipeline.admission.post(exchange, path, *framing),
            Method::Get | Method::Head => {
                let page = pipeline.pages.answer(path, || pipeline.stats());
                self.page(admitted, page.unwrap_or_else(|| Page::text(GET_TEXT)));
                return None;
            }
            Method::Other => Err(Refusal::MethodNotAllowed),
        };
        match checked {
            Ok(()) => Some(admitted),
            Err(why) => {
                let ip = *ip;
                self.refuse(admitted.exchange, why, ip);
                None
            }
        }
    }

    /// Answers a `GET` or `HEAD` with a page. A body on one means nothing
    /// here; it is not read, so the connection ends after the answer.
    fn page(&self, admitted: Admitted<'_>, page: Page) {
        let answer = Answer {
            status: page.status(),
            content_type: page.content_type(),
            extra: None,
            body: page.body(),
        };
        if admitted.framing == Framing::Length(0) {
            admitted.exchange.answer(answer);
        } else {
            admitted.exchange.answer_and_close(answer);
        }
    }

    /// Refuses a request. One with a body (or framing in doubt) is answered
    /// with `Connection: close` and its connection ended without reading
    /// the body; a request without a body keeps its connection.
    fn refuse(&self, exchange: Exchange<'_>, why: Refusal, ip: IpAddr) {
        let pipeline = &*self.pipeline;
        pipeline.counters.refusal(why);
        if let Some(suppressed) = pipeline.refusal_log.allow() {
            // The path only: no query string, no user info, control
            // characters escaped. Request headers are never logged.
            log::warn!(
                "refused {} {:?} from {ip}: {} {} ({suppressed} more refusals not logged)",
                exchange.method_name(),
                admit::target_path(exchange.target()),
                why.status(),
                why
            );
        }
        let close = matches!(
            why,
            Refusal::BadFraming | Refusal::IncompleteBody | Refusal::BodyTimeout
        ) || has_body(&exchange);
        if close {
            exchange.answer_and_close(why.answer());
        } else {
            exchange.answer(why.answer());
        }
    }
}

/// Whether the request carries a body (or claims to): then refusing it
/// leaves bytes unread on its connection.
fn has_body(exchange: &Exchange<'_>) -> bool {
    exchange.headers().any(|(field, value)| {
        field.eq_ignore_ascii_case("Transfer-Encoding")
            || (field.eq_ignore_ascii_case("Content-Length") && value.trim() != "0")
    })
}
