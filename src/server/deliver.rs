//! After the answer: parse the post and hand it to the callbacks and the
//! events channel, counting what it was. Nothing here can delay a camera:
//! its `200` has already been written.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::atomic::Ordering;

use crossbeam_channel::{Sender, TrySendError};

use super::callbacks::{guarded, UnparsedReason};
use super::config::Overflow;
use super::state::Shared;
use super::stats::bump;
use crate::{parse, Body, Category, Event, Post};

/// One worker's way to its users: the server's state and the worker's own
/// clone of the events sender (`None` once the server dropped it before
/// this worker started).
pub(crate) struct Delivery<'a> {
    pub shared: &'a Shared,
    pub tx: Option<&'a Sender<Event>>,
}

impl Delivery<'_> {
    /// Parses an answered post and hands it to the callbacks and channel.
    pub fn deliver(&self, body: Body, chunked: bool, ip: IpAddr) {
        let shared = self.shared;
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
        let Some(tx) = self.tx else {
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
