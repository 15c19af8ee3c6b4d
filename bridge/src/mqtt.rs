//! MQTT delivery: a bounded queue in front of one publisher thread, an
//! at-least-once outbox across broker outages, availability and discovery
//! republishing.
//!
//! Why this shape:
//! - **Cameras never wait for the broker.** The server's workers only
//!   `try_send` into a bounded queue (capacity in messages and in bytes).
//!   When it is full the message is dropped and counted, never waited for.
//! - **Memory is bounded by bytes, whatever the images.** A message's bytes
//!   count against `queue_max_mb` from the moment it is queued until the
//!   broker acknowledges it (or it is dropped): queued, held for resending,
//!   held back, or in flight. Only rumqttc's own copy of what is in flight
//!   comes on top, and that is capped at an eighth of the bound.
//! - **Images go first when something must go.** Image messages (JPEG bytes)
//!   may fill only three quarters of either bound; the last quarter is kept
//!   for state and discovery messages, which are what automations use.
//! - **New entities get their first state.** Home Assistant subscribes to a
//!   new entity's state topic only after it has processed the discovery
//!   config, so a state published right behind the first config was lost (the
//!   vendor's bridge has this bug too). The not-retained messages of an event
//!   that follows the first discovery of its entity within `first_state_delay`
//!   are held back on the publisher until then (never on the camera's
//!   thread); later messages to the same topic queue behind them, so order
//!   per topic is kept. Retained ones need no delay: the broker replays them.
//! - **Nothing handed over is lost in an outage.** rumqttc keeps unacknowledged
//!   publishes only within one session: with a clean session (ours — a
//!   restarted broker has no session anyway) it discards them on reconnect.
//!   So the publisher keeps its own outbox of every QoS 1 publish until the
//!   broker's PUBACK, matched by packet id (rumqttc reports the id it gave
//!   each publish, in the order they were handed over), and sends what was
//!   not acknowledged again after reconnecting: at least once.
//! - **No stale handover.** The publisher hands a message to rumqttc only
//!   under a gate that names the live session. When the connection fails, the
//!   connection thread closes the gate first, then empties rumqttc's request
//!   channel, so nothing from the old session leaks into the new one out of
//!   order.
//! - **Availability.** The broker holds a last will, `offline` (retained), on
//!   this bridge's availability topic; every (re)connect publishes `online`
//!   first, then every discovery config this bridge has published (a broker
//!   restarted without persistence has lost them), then the outbox. When Home
//!   Assistant announces `online` on `<discovery_prefix>/status`, every
//!   discovery config is published again.
//!
//! Two threads: `mqtt-connection` drives rumqttc's event loop (connects,
//! reconnects with backoff, reads acknowledgements); `mqtt-publisher` owns
//! the outbox and is the only one that publishes.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, select, unbounded, Receiver, Sender, TrySendError};
use rumqttc::{
    Client, Connection, Event, LastWill, MqttOptions, Outgoing, Packet, QoS, RecvTimeoutError,
};

use crate::config;
use crate::discovery::Message;

/// Publishes handed to rumqttc and not yet acknowledged, at most.
const WINDOW: usize = 100;
/// First and longest pause between connection attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(5));
/// How often the threads look at the stop flag when idle.
const TICK: Duration = Duration::from_millis(100);
/// At most one "queue full" warning per this long (the count says the rest).
const DROP_LOG_EVERY: Duration = Duration::from_secs(10);

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Publishes the broker acknowledged.
    pub published: AtomicU64,
    /// Messages dropped because the queue was full (images included).
    pub dropped: AtomicU64,
    /// Of those, image messages.
    pub dropped_images: AtomicU64,
    /// The most bytes ever counted against `queue_max_mb`.
    pub peak_bytes: AtomicUsize,
    /// Successful connections (the first included).
    pub connects: AtomicU64,
    /// Messages handed over again after a reconnect.
    pub resent: AtomicU64,
    /// Messages held by the publisher (outbox, resend, priority).
    pub held: AtomicUsize,
}

/// What the connection thread tells the publisher, in order.
#[derive(Debug)]
enum Control {
    Connected(u64),
    Disconnected,
    /// rumqttc gave this packet id to the next publish handed over.
    Sent(u16),
    Acked(u16),
    HomeAssistantOnline,
}

/// Discovery configs published so far, by (camera id, category), with when
/// they were first queued.
type Memo = BTreeMap<(String, String), (Instant, Vec<Message>)>;

/// A message in the queue: what it is, and how long to hold it back.
#[derive(Debug)]
struct Item {
    message: Message,
    image: bool,
    not_before: Option<Instant>,
}

impl Item {
    fn size(&self) -> usize {
        size(&self.message)
    }
}

/// The bytes a message counts for against `queue_max_mb`.
fn size(message: &Message) -> usize {
    message.payload.len() + message.topic.len()
}

struct Shared {
    /// The live session's number; `None` while disconnected.
    gate: Mutex<Option<u64>>,
    stop: AtomicBool,
    publisher_done: AtomicBool,
    counters: Counters,
    memo: Mutex<Memo>,
    queued_bytes: AtomicUsize,
    max_bytes: usize,
    first_state_delay: Duration,
    last_drop_log: Mutex<Option<(Instant, u64)>>,
    availability_topic: String,
}

impl Shared {
    /// Gives back the bytes of a message that left (acknowledged, dropped).
    fn release(&self, bytes: usize) {
        self.queued_bytes.fetch_sub(bytes, Ordering::SeqCst);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The MQTT side of the bridge; cheap to share behind an `Arc`.
pub struct Mqtt {
    queue: Sender<Item>,
    queue_rx: Receiver<Item>,
    capacity: usize,
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Mqtt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mqtt")
            .field("connected", &self.connected())
            .finish_non_exhaustive()
    }
}

impl Mqtt {
    /// Starts the connection and publisher threads; connecting happens in
    /// the background (the bridge serves cameras at once either way).
    pub fn start(cfg: &config::Mqtt, availability_topic: String) -> std::io::Result<Mqtt> {
        let mut options = MqttOptions::new(cfg.client_id.clone(), cfg.broker.clone(), cfg.port);
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_session(true)
            .set_inflight(WINDOW as u16)
            // Images are whole JPEGs: allow what a camera post can carry.
            .set_max_packet_size(1 << 20, 256 << 20)
            .set_last_will(LastWill::new(
                &availability_topic,
                "offline",
                QoS::AtLeastOnce,
                true,
            ));
        if !cfg.username.is_empty() {
            options.set_credentials(cfg.username.clone(), cfg.password.expose());
        }
        let (client, connection) = Client::new(options, 2 * WINDOW + 16);
        let (queue, queue_rx) = bounded(cfg.queue_capacity);
        let (control_tx, control_rx) = unbounded();
        let shared = Arc::new(Shared {
            gate: Mutex::new(None),
            stop: AtomicBool::new(false),
            publisher_done: AtomicBool::new(false),
            counters: Counters::default(),
            memo: Mutex::new(Memo::new()),
            queued_bytes: AtomicUsize::new(0),
            max_bytes: cfg.queue_max_bytes,
            first_state_delay: cfg.first_state_delay,
            last_drop_log: Mutex::new(None),
            availability_topic,
        });
        let status_topic = format!("{}/status", cfg.discovery_prefix);
        let net = {
            let (shared, client) = (shared.clone(), client.clone());
            let broker = format!("{}:{}", cfg.broker, cfg.port);
            std::thread::Builder::new()
                .name("mqtt-connection".into())
                .spawn(move || {
                    connection_loop(connection, client, shared, control_tx, status_topic, broker)
                })?
        };
        let publisher = {
            let shared = shared.clone();
            let rx = queue_rx.clone();
            std::thread::Builder::new()
                .name("mqtt-publisher".into())
                .spawn(move || Publisher::new(client, shared, control_rx, rx).run())?
        };
        Ok(Mqtt {
            queue,
            queue_rx,
            capacity: cfg.queue_capacity,
            shared,
            threads: Mutex::new(vec![net, publisher]),
        })
    }

    /// Queues a state or discovery message without ever waiting; `false`
    /// when it was dropped (queue full in messages or bytes), which is
    /// counted and logged.
    pub fn send(&self, message: Message) -> bool {
        self.enqueue(Item {
            message,
            image: false,
            not_before: None,
        })
    }

    /// Queues the messages of one event: state (`image: false`) or JPEG
    /// bytes (`image: true`), held back until `hold` when it is set.
    pub fn send_event(&self, message: Message, image: bool, hold: Option<Instant>) -> bool {
        let not_before = hold.filter(|_| !message.retain);
        self.enqueue(Item {
            message,
            image,
            not_before,
        })
    }

    fn enqueue(&self, item: Item) -> bool {
        let size = item.size();
        let shared = &self.shared;
        // Images may use three quarters of each bound; the rest is kept for
        // state and discovery.
        let (max_bytes, max_count) = if item.image {
            (shared.max_bytes / 4 * 3, self.capacity - self.capacity / 4)
        } else {
            (shared.max_bytes, self.capacity)
        };
        let room = !item.image || self.queued() < max_count;
        let fits = room
            && shared
                .queued_bytes
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| {
                    (b + size <= max_bytes || b == 0).then_some(b + size)
                })
                .map(|before| {
                    shared
                        .counters
                        .peak_bytes
                        .fetch_max(before + size, Ordering::Relaxed)
                })
                .is_ok();
        let topic_if_dropped = (!fits).then(|| item.message.topic.clone());
        let (image, sent) = (
            item.image,
            fits && {
                match self.queue.try_send(item) {
                    Ok(()) => true,
                    Err(TrySendError::Full(item) | TrySendError::Disconnected(item)) => {
                        shared.release(item.size());
                        false
                    }
                }
            },
        );
        if !sent {
            self.dropped(topic_if_dropped.as_deref(), image);
        }
        sent
    }

    /// Counts a dropped message and logs it, at most once per
    /// [`DROP_LOG_EVERY`] (with the count since the last line).
    fn dropped(&self, topic: Option<&str>, image: bool) {
        let counters = &self.shared.counters;
        let n = counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if image {
            counters.dropped_images.fetch_add(1, Ordering::Relaxed);
        }
        let mut last = lock(&self.shared.last_drop_log);
        let now = Instant::now();
        let since = match *last {
            Some((at, _)) if now.duration_since(at) < DROP_LOG_EVERY => return,
            Some((_, count)) => n - count,
            None => n,
        };
        *last = Some((now, n));
        drop(last);
        log::warn!(
            "MQTT queue full ({} messages, {} bytes held): dropped {since} message(s) since the last warning, {n} in all{}",
            self.queued(),
            self.shared.queued_bytes.load(Ordering::Relaxed),
            topic.map(|t| format!(" (latest to {t})")).unwrap_or_default()
        );
    }

    /// Bytes now counted against `queue_max_mb`.
    pub fn queued_bytes(&self) -> usize {
        self.shared.queued_bytes.load(Ordering::Relaxed)
    }

    /// Queues the discovery configs of a camera and category the first time
    /// they are seen (and remembers them for republishing), holding the
    /// memo's lock while queueing, so no state of that camera can overtake
    /// them. Returns until when the entity's not-retained messages are to be
    /// held back (`first_state_delay` after its first discovery), if that is
    /// still ahead.
    pub fn discover(
        &self,
        camera_id: &str,
        category: &str,
        configs: impl FnOnce() -> Vec<Message>,
    ) -> Option<Instant> {
        let mut memo = lock(&self.shared.memo);
        let key = (camera_id.to_owned(), category.to_owned());
        let now = Instant::now();
        let first = match memo.get(&key) {
            Some((first, _)) => *first,
            None => {
                let configs = configs();
                for message in &configs {
                    self.send(message.clone());
                }
                memo.insert(key, (now, configs));
                now
            }
        };
        let until = first + self.shared.first_state_delay;
        (until > now).then_some(until)
    }

    /// Whether the broker connection is up.
    pub fn connected(&self) -> bool {
        lock(&self.shared.gate).is_some()
    }

    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// Messages waiting in the queue plus those the publisher holds.
    pub fn queued(&self) -> usize {
        self.queue_rx.len() + self.shared.counters.held.load(Ordering::Relaxed)
    }

    /// Stops: delivers what is queued while connected (until `deadline`),
    /// publishes `offline`, disconnects and joins the threads.
    pub fn shutdown(&self, within: Duration) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + within + Duration::from_secs(2);
        let threads = std::mem::take(&mut *lock(&self.threads));
        for t in threads {
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
        let left = self.queued();
        if left > 0 {
            log::warn!("stopped with {left} MQTT messages not delivered");
        }
    }
}

fn connection_loop(
    mut connection: Connection,
    client: Client,
    shared: Arc<Shared>,
    control: Sender<Control>,
    status_topic: String,
    broker: String,
) {
    let mut session = 0u64;
    let mut backoff = BACKOFF.0;
    let mut last_error = String::new();
    let forward = |event: &Event, control: &Sender<Control>| match event {
        Event::Outgoing(Outgoing::Publish(pkid)) => {
            let _ = control.send(Control::Sent(*pkid));
        }
        Event::Incoming(Packet::PubAck(ack)) => {
            let _ = control.send(Control::Acked(ack.pkid));
        }
        _ => {}
    };
    loop {
        if shared.stop.load(Ordering::SeqCst) && shared.publisher_done.load(Ordering::SeqCst) {
            break;
        }
        match connection.recv_timeout(TICK) {
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
            Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                session += 1;
                *lock(&shared.gate) = Some(session);
                shared.counters.connects.fetch_add(1, Ordering::Relaxed);
                backoff = BACKOFF.0;
                last_error.clear();
                log::info!("MQTT connected to {broker}");
                if let Err(e) = client.try_subscribe(status_topic.as_str(), QoS::AtLeastOnce) {
                    log::warn!("cannot subscribe to {status_topic}: {e}");
                }
                let _ = control.send(Control::Connected(session));
            }
            Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                if p.topic == status_topic && p.payload.as_ref() == b"online" {
                    log::info!("Home Assistant is online: publishing discovery again");
                    let _ = control.send(Control::HomeAssistantOnline);
                }
            }
            Ok(Ok(Event::Outgoing(Outgoing::Disconnect))) if shared.stop.load(Ordering::SeqCst) => {
                break
            }
            Ok(Ok(event)) => forward(&event, &control),
            Ok(Err(e)) => {
                let was_up = {
                    let mut gate = lock(&shared.gate);
                    let was = gate.take().is_some();
                    // Acknowledgements read before the failure still count;
                    // then rumqttc forgets this session entirely (we resend).
                    for event in connection.eventloop.state.events.drain(..) {
                        forward(&event, &control);
                    }
                    connection.eventloop.clean();
                    connection.eventloop.pending.clear();
                    was
                };
                if was_up {
                    log::warn!("MQTT connection to {broker} lost: {e}; reconnecting");
                    let _ = control.send(Control::Disconnected);
                } else if e.to_string() != last_error {
                    log::warn!("cannot connect to MQTT broker {broker}: {e}; retrying");
                }
                last_error = e.to_string();
                let until = Instant::now() + backoff;
                while Instant::now() < until && !shared.stop.load(Ordering::SeqCst) {
                    std::thread::sleep(TICK.min(until - Instant::now()));
                }
                if shared.stop.load(Ordering::SeqCst) && !was_up {
                    // Stopping while disconnected: the publisher gives up too.
                    shared.publisher_done.store(true, Ordering::SeqCst);
                    break;
                }
                backoff = (backoff * 2).min(BACKOFF.1);
            }
        }
    }
    *lock(&shared.gate) = None;
}

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

struct Publisher {
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
    fn new(
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

    fn run(mut self) {
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
