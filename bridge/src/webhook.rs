//! Home Assistant webhooks, off the cameras' path.
//!
//! The vendor posts each webhook synchronously on the thread that handles the
//! camera's connection, with a 5 s timeout: a Home Assistant that is down or
//! slow holds the camera's next post for up to 5 s per event. Here the
//! server's worker only `try_send`s the job into a bounded queue; one sender
//! thread posts it (`POST <url>/api/webhook/<id>`, the payload as JSON) with
//! a timeout per attempt and retries with backoff. When the queue is full
//! the job is dropped, counted and logged; a dead Home Assistant never slows
//! a camera.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};

use crate::config::{self, webhook_url_hint};

/// Outcomes, for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Delivered (2xx).
    pub sent: AtomicU64,
    /// Given up after every attempt, or refused with a 4xx.
    pub failed: AtomicU64,
    /// Attempts repeated after a failure.
    pub retried: AtomicU64,
    /// Dropped because the queue was full.
    pub dropped: AtomicU64,
}

struct Job {
    url: String,
    body: Vec<u8>,
}

/// The webhook sender.
pub struct Webhooks {
    config: config::Webhooks,
    tx: Sender<Job>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("url", &self.config.url)
            .finish_non_exhaustive()
    }
}

impl Webhooks {
    pub fn start(config: config::Webhooks) -> std::io::Result<Webhooks> {
        let (tx, rx) = bounded(config.queue);
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        let thread = {
            let (counters, stop, retries) = (counters.clone(), stop.clone(), config.retries);
            std::thread::Builder::new()
                .name("webhooks".into())
                .spawn(move || run(&agent, &rx, &counters, &stop, retries))?
        };
        Ok(Webhooks {
            config,
            tx,
            counters,
            stop,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues the payload for the category's webhook (or `all`'s); never waits.
    pub fn send(&self, category: &str, body: &[u8]) {
        let Some(id) = self.config.id_for(category) else {
            return;
        };
        let job = Job {
            url: format!("{}/api/webhook/{id}", self.config.url),
            body: body.to_vec(),
        };
        if self.tx.try_send(job).is_err() {
            let n = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n == 1 || n.is_power_of_two() {
                log::warn!("webhook queue full: dropped a {category} webhook ({n} dropped so far)");
            }
        }
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn queued(&self) -> usize {
        self.tx.len()
    }

    /// Sends what is queued for at most `within`, then stops.
    pub fn shutdown(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.tx.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            // A request in flight ends within its timeout; do not wait longer
            // than asked for.
            while !t.is_finished() && Instant::now() < deadline + Duration::from_millis(200) {
                std::thread::sleep(Duration::from_millis(10));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

fn run(
    agent: &ureq::Agent,
    rx: &Receiver<Job>,
    counters: &Counters,
    stop: &AtomicBool,
    retries: u32,
) {
    loop {
        let job = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) if !stop.load(Ordering::SeqCst) => continue,
            Err(_) => return,
        };
        let mut backoff = Duration::from_millis(500);
        for attempt in 0..=retries {
            if attempt > 0 {
                counters.retried.fetch_add(1, Ordering::Relaxed);
                let until = Instant::now() + backoff;
                while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
                }
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
            let result = agent
                .post(&job.url)
                .content_type("application/json")
                .send(&job.body[..]);
            match result {
                Ok(r) if r.status().is_success() => {
                    counters.sent.fetch_add(1, Ordering::Relaxed);
                    log::debug!("webhook {} -> {}", webhook_url_hint(&job.url), r.status());
                    break;
                }
                // Home Assistant answers 4xx for what no retry will fix
                // (unknown webhook id, wrong method), except these two.
                Ok(r)
                    if r.status().is_client_error()
                        && ![408, 429].contains(&r.status().as_u16()) =>
                {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                    log::warn!(
                        "webhook {} refused: {}",
                        webhook_url_hint(&job.url),
                        r.status()
                    );
                    break;
                }
                outcome => {
                    let why = match outcome {
                        Ok(r) => r.status().to_string(),
                        Err(e) => e.to_string(),
                    };
                    if attempt == retries {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                        log::warn!(
                            "webhook {} failed after {} attempts: {why}",
                            webhook_url_hint(&job.url),
                            retries + 1
                        );
                    } else {
                        log::debug!(
                            "webhook {} attempt {} failed: {why}",
                            webhook_url_hint(&job.url),
                            attempt + 1
                        );
                    }
                }
            }
        }
    }
}
