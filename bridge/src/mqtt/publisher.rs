//! The `mqtt-publisher` thread, the only one that publishes: it owns the
//! outbox of QoS 1 publishes waiting for their PUBACK, sends them again
//! after a reconnect (at least once), holds back new entities' first states,
//! and hands messages to rumqttc only under the gate of the live session.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver};
use rumqttc::{Client, QoS};

use super::shared::{lock, size, Control, Item, Shared, TICK, WINDOW};
use crate::discovery::Message;

/// Where a message being handed over came from, to put it back in place.
#[derive(Debug, Clone, Copy)]
enum From {
    Priority,
    Resend,
    Delayed,
    Queue,
}

/// A message handed to rumqttc and waiting for its PUBACK.
struct Sent {
    /// The packet id, once rumqttc reported it.
    pkid: Option<u16>,
    message: Message,
    /// Whether its bytes count against `queue_max_mb` (not so for the
    /// `online` and discovery copies the publisher makes itself).
    counted: bool,
}

/// The publisher thread's state.
pub(super) struct Publisher {
    client: Client,
    shared: Arc<Shared>,
    control: Receiver<Control>,
    queue: Receiver<Item>,
    session: Option<u64>,
    /// Handed to rumqttc, waiting for PUBACK.
    outbox: VecDeque<Sent>,
    /// Bytes of the messages in `outbox`.
    outbox_bytes: usize,
    /// Not acknowledged in a lost session: sent again first after reconnecting.
    resend: VecDeque<Message>,
    /// `online` and discovery configs, sent before anything else.
    priority: VecDeque<Message>,
    /// Held back until the instant given (new entities' first states, and
    /// what follows them on the same topics), in the order they came.
    delayed: VecDeque<(Instant, Message)>,
}

impl Publisher {
    pub(super) fn new(
        client: Client,
        shared: Arc<Shared>,
        control: Receiver<Control>,
        queue: Receiver<Item>,
    ) -> Publisher {
        Publisher {
            client,
            shared,
            control,
            queue,
            session: None,
            outbox: VecDeque::new(),
            outbox_bytes: 0,
            resend: VecDeque::new(),
            priority: VecDeque::new(),
            delayed: VecDeque::new(),
        }
    }

    pub(super) fn run(mut self) {
        let mut stop_deadline: Option<Instant> = None;
        loop {
            while let Ok(c) = self.control.try_recv() {
                self.handle(c);
            }
            self.shared.counters.held.store(
                self.outbox.len() + self.resend.len() + self.priority.len() + self.delayed.len(),
                Ordering::Relaxed,
            );
            let stopping = self.shared.stop.load(Ordering::SeqCst);
            if stopping {
                let deadline =
                    *stop_deadline.get_or_insert_with(|| Instant::now() + Duration::from_secs(5));
                let drained = self.queue.is_empty()
                    && self.resend.is_empty()
                    && self.priority.is_empty()
                    && self.delayed.is_empty();
                if self.session.is_none()
                    || (drained && self.outbox.is_empty())
                    || Instant::now() >= deadline
                {
                    self.finish();
                    return;
                }
            }
            // In flight: at most WINDOW messages and an eighth of the byte
            // bound (rumqttc holds a copy of each), but always one.
            let open = self.session.is_some()
                && self.outbox.len() < WINDOW
                && (self.outbox.is_empty() || self.outbox_bytes < self.shared.max_bytes / 8);
            if open {
                if let Some(m) = self.priority.pop_front() {
                    self.hand_over(m, From::Priority);
                    continue;
                }
                if let Some(m) = self.resend.pop_front() {
                    self.hand_over(m, From::Resend);
                    continue;
                }
                let now = Instant::now();
                if let Some(m) = self.take_due(now, stopping) {
                    self.hand_over(m, From::Delayed);
                    continue;
                }
                let wait = match self.delayed.iter().map(|(at, _)| *at).min() {
                    Some(at) => TICK.min(at.saturating_duration_since(now)),
                    None => TICK,
                };
                select! {
                    recv(self.control) -> c => if let Ok(c) = c { self.handle(c) },
                    recv(self.queue) -> item => if let Ok(item) = item { self.take(item) },
                    default(wait) => {}
                }
            } else if let Ok(c) = self.control.recv_timeout(TICK) {
                self.handle(c);
            }
        }
    }

    /// A message from the queue: held back if it is to be, or behind a held
    /// message to the same topic (order per topic is kept); else sent.
    fn take(&mut self, item: Item) {
        let behind = self
            .delayed
            .iter()
            .rev()
            .find(|(_, m)| m.topic == item.message.topic)
            .map(|(at, _)| *at);
        match (item.not_before.filter(|at| *at > Instant::now()), behind) {
            (None, None) => self.hand_over(item.message, From::Queue),
            (a, b) => {
                let at = a.max(b).unwrap_or_else(Instant::now);
                self.delayed.push_back((at, item.message));
            }
        }
    }

    /// The first held message whose time has come (all of them when stopping).
    fn take_due(&mut self, now: Instant, stopping: bool) -> Option<Message> {
        let i = self
            .delayed
            .iter()
            .position(|(at, _)| stopping || *at <= now)?;
        self.delayed.remove(i).map(|(_, m)| m)
    }

    fn handle(&mut self, control: Control) {
        match control {
            Control::Connected(session) => {
                self.session = Some(session);
                self.priority.clear();
                let topic = self.shared.availability_topic.clone();
                self.priority.push_back(Message {
                    topic,
                    payload: b"online".to_vec(),
                    retain: true,
                });
                self.queue_discovery();
                let n = self.resend.len() as u64;
                if n > 0 {
                    log::info!(
                        "sending {n} MQTT messages again that the lost connection did not confirm"
                    );
                    self.shared.counters.resent.fetch_add(n, Ordering::Relaxed);
                }
            }
            Control::Disconnected => {
                self.session = None;
                // The unacknowledged, in order, before what was already
                // waiting; our own copies of `online` and discovery are made
                // again on reconnect.
                for sent in self.outbox.drain(..).rev() {
                    if sent.counted {
                        self.resend.push_front(sent.message);
                    }
                }
                self.outbox_bytes = 0;
                self.priority.clear();
            }
            Control::Sent(pkid) => {
                if let Some(slot) = self.outbox.iter_mut().find(|s| s.pkid.is_none()) {
                    slot.pkid = Some(pkid);
                }
            }
            Control::Acked(pkid) => {
                if let Some(i) = self.outbox.iter().position(|s| s.pkid == Some(pkid)) {
                    if let Some(sent) = self.outbox.remove(i) {
                        let bytes = size(&sent.message);
                        self.outbox_bytes -= bytes;
                        if sent.counted {
                            self.shared.release(bytes);
                        }
                    }
                    self.shared
                        .counters
                        .published
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            Control::HomeAssistantOnline => self.queue_discovery(),
        }
    }

    fn queue_discovery(&mut self) {
        let memo = lock(&self.shared.memo);
        self.priority
            .extend(memo.values().flat_map(|(_, configs)| configs).cloned());
    }

    /// Hands one message to rumqttc if the session it was meant for is still
    /// live; otherwise keeps it for after the reconnect.
    fn hand_over(&mut self, message: Message, from: From) {
        let counted = !matches!(from, From::Priority);
        if message.topic.is_empty() || message.topic.contains(['+', '#']) {
            log::error!(
                "cannot publish to `{}`: not a valid topic; dropped",
                message.topic
            );
            self.shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            if counted {
                self.shared.release(size(&message));
            }
            return;
        }
        let gate = lock(&self.shared.gate);
        let live = *gate == self.session && self.session.is_some();
        let handed = live
            && self
                .client
                .try_publish(
                    message.topic.as_str(),
                    QoS::AtLeastOnce,
                    message.retain,
                    message.payload.clone(),
                )
                .is_ok();
        drop(gate);
        if handed {
            self.outbox_bytes += size(&message);
            self.outbox.push_back(Sent {
                pkid: None,
                message,
                counted,
            });
        } else {
            match from {
                From::Priority => self.priority.push_front(message),
                From::Resend => self.resend.push_front(message),
                // After the outbox, which the coming `Disconnected` moves here.
                From::Queue | From::Delayed => self.resend.push_back(message),
            }
            if live {
                // rumqttc's request channel is full for a moment.
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }

    /// Publishes `offline` (retained) and disconnects, waiting a little for
    /// the broker's acknowledgement.
    fn finish(&mut self) {
        if self.session.is_some() {
            let topic = self.shared.availability_topic.clone();
            let _ = self
                .client
                .try_publish(topic, QoS::AtLeastOnce, true, b"offline".to_vec());
            let until = Instant::now() + Duration::from_secs(2);
            // Wait for the ack of everything handed over, `offline` included.
            let mut waiting = self.outbox.len() + 1;
            while waiting > 0 && Instant::now() < until {
                match self.control.recv_timeout(TICK) {
                    Ok(Control::Acked(_)) => waiting -= 1,
                    Ok(Control::Disconnected) => break,
                    _ => {}
                }
            }
            let _ = self.client.try_disconnect();
        }
        self.shared.publisher_done.store(true, Ordering::SeqCst);
    }
}
