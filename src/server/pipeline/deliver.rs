//! After the answer: parse the post and hand it to the callbacks and the
//! events channel, counting what it was. Nothing here can delay a camera:
//! its `200` has already been written.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use crossbeam_channel::{Sender, TrySendError};

use crate::server::callbacks::{guarded, Callbacks, UnparsedReason};
use crate::server::config::Overflow;
use crate::server::stats::{bump, Counters};
use crate::{parse, Body, Category, Event, Post};

/// The delivery stage: the user's callbacks and the events channel.
pub(crate) struct Delivery {
    pub callbacks: Callbacks,
    /// Whether events go to the channel.
    channel: bool,
    overflow: Overflow,
    /// The events channel's own sender: `Some` until shutdown begins. Each
    /// worker holds a clone ([`sender`](Self::sender)), so `events()` ends
    /// when the last worker is done with it, after everything accepted has
    /// been sent.
    root: Mutex<Option<Sender<Event>>>,
}

impl Delivery {
    pub fn new(
        callbacks: Callbacks,
        channel: bool,
        overflow: Overflow,
        tx: Sender<Event>,
    ) -> Delivery {
        Delivery {
            callbacks,
            channel,
            overflow,
            root: Mutex::new(Some(tx)),
        }
    }

    /// A worker's own sender (`None` once shutdown began).
    pub fn sender(&self) -> Option<Sender<Event>> {
        self.root.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Drops the channel's own sender: `events()` ends once every worker
    /// has dropped its clone.
    pub fn close(&self) {
        self.root.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Hands an answered post to the callbacks and channel, through a
    /// worker's sender.
    pub fn to<'a>(
        &'a self,
        counters: &'a Counters,
        tx: Option<&'a Sender<Event>>,
    ) -> Deliverer<'a> {
        Deliverer {
            delivery: self,
            counters,
            tx,
        }
    }
}

/// One worker's way to its users.
pub(crate) struct Deliverer<'a> {
    delivery: &'a Delivery,
    counters: &'a Counters,
    /// The worker's own clone of the events sender (`None` once the server
    /// dropped it before this worker started).
    tx: Option<&'a Sender<Event>>,
}

impl Deliverer<'_> {
    /// Parses an answered post and hands it to the callbacks and channel.
    pub fn deliver(&self, body: Body, chunked: bool, ip: IpAddr) {
        let counters = self.counters;
        let cb = &self.delivery.callbacks;
        let channel = self.delivery.channel;
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
                    let copy = channel.then(|| event.clone());
                    self.call("on_event", ip, Some(|| f(event, ip)));
                    if let Some(event) = copy {
                        self.send(event);
                    }
                } else if channel {
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
                bump(&self.counters.callback_panics);
            }
        }
    }

    /// Queues an event for `events()`, following the overflow policy.
    fn send(&self, event: Event) {
        let counters = self.counters;
        let may_drop = match self.delivery.overflow {
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
