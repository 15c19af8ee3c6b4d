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
//! Two threads: `mqtt-connection` (`connection.rs`) drives rumqttc's event
//! loop (connects, reconnects with backoff, reads acknowledgements);
//! `mqtt-publisher` (`publisher.rs`) owns the outbox and is the only one that
//! publishes. This module is the handle the server's workers queue into;
//! `shared.rs` holds what the three share.

mod connection;
mod publisher;
mod shared;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender, TrySendError};
use rumqttc::{Client, LastWill, MqttOptions, QoS, TlsConfiguration, Transport};

use crate::config;
use crate::discovery::Message;
use connection::connection_loop;
use publisher::Publisher;
use shared::{lock, Counters, Item, Memo, Shared, WINDOW};

/// At most one "queue full" warning per this long (the count says the rest).
const DROP_LOG_EVERY: Duration = Duration::from_secs(10);

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
        if let Some(files) = &cfg.tls {
            // Checked when the configuration was loaded; read again here.
            let tls = crate::tls::client_config(files).map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
            })?;
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
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

    /// Forgets the discovery configs of a camera and `category` (no longer
    /// republished) and queues `messages` (usually their deletion: empty
    /// retained configs), under the memo's lock, so no republishing of them
    /// can follow the deletion.
    pub fn forget(&self, camera_id: &str, category: &str, messages: Vec<Message>) {
        let mut memo = lock(&self.shared.memo);
        memo.remove(&(camera_id.to_owned(), category.to_owned()));
        for message in messages {
            self.send(message);
        }
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
