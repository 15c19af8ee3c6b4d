//! What the handle and the two threads share: the session gate, the stop
//! flags, the counters, the byte count against `queue_max_mb`, the
//! discovery memo, and the messages they pass.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::discovery::Message;

/// Publishes handed to rumqttc and not yet acknowledged, at most.
pub(super) const WINDOW: usize = 100;
/// How often the threads look at the stop flag when idle.
pub(super) const TICK: Duration = Duration::from_millis(100);

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
pub(super) enum Control {
    Connected(u64),
    Disconnected,
    /// rumqttc gave this packet id to the next publish handed over.
    Sent(u16),
    Acked(u16),
    HomeAssistantOnline,
}

/// Discovery configs published so far, by (camera id, category), with when
/// they were first queued.
pub(super) type Memo = BTreeMap<(String, String), (Instant, Vec<Message>)>;

/// A message in the queue: what it is, and how long to hold it back.
#[derive(Debug)]
pub(super) struct Item {
    pub(super) message: Message,
    pub(super) image: bool,
    pub(super) not_before: Option<Instant>,
}

impl Item {
    pub(super) fn size(&self) -> usize {
        size(&self.message)
    }
}

/// The bytes a message counts for against `queue_max_mb`.
pub(super) fn size(message: &Message) -> usize {
    message.payload.len() + message.topic.len()
}

/// The state the handle, the connection thread and the publisher share.
pub(super) struct Shared {
    /// The live session's number; `None` while disconnected.
    pub(super) gate: Mutex<Option<u64>>,
    pub(super) stop: AtomicBool,
    pub(super) publisher_done: AtomicBool,
    pub(super) counters: Counters,
    pub(super) memo: Mutex<Memo>,
    pub(super) queued_bytes: AtomicUsize,
    pub(super) max_bytes: usize,
    pub(super) first_state_delay: Duration,
    pub(super) last_drop_log: Mutex<Option<(Instant, u64)>>,
    pub(super) availability_topic: String,
}

impl Shared {
    /// Gives back the bytes of a message that left (acknowledged, dropped).
    pub(super) fn release(&self, bytes: usize) {
        self.queued_bytes.fetch_sub(bytes, Ordering::SeqCst);
    }
}

/// Locks `m`, even when a thread panicked while holding it (the poison is
/// ignored: the bridge goes on with what the lock holds).
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
