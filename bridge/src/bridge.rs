//! One event in, every output out: the server's `on_event` callback.
//!
//! Runs on the library's worker threads after the camera has been answered.
//! Nothing here waits on the network: MQTT and webhooks are queues; the only
//! blocking work is writing the saved images (local disk), which the vendor
//! also does before publishing, because the payload carries their paths.
//!
//! Order per event, as the vendor: discovery (first event of a camera and
//! category), state, overview image, target image; then ours: the event
//! entity's message (`events`) and the camera's connectivity (`presence`);
//! then the webhook.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use viewtron::{Category, Event};

use crate::config::Config;
use crate::dedup::Dedup;
use crate::discovery::{self, Message, Naming};
use crate::events;
use crate::images::Images;
use crate::mqtt::Mqtt;
use crate::page::Board;
use crate::payload::State;
use crate::presence::Presence;
use crate::webhook::Webhooks;

/// The outputs, each optional as configured.
#[derive(Debug)]
pub struct Bridge {
    pub mqtt: Option<Mqtt>,
    pub naming: Option<Naming>,
    pub webhooks: Option<Webhooks>,
    pub images: Option<Images>,
    pub dedup: Option<Dedup>,
    pub counters: Counters,
    /// Our Home Assistant entities beyond the vendor's.
    pub ours: Additions,
    /// The installer's page (`page:`), when on.
    pub page: Option<Arc<Board>>,
}

/// Our Home Assistant entities beyond the vendor's (MQTT only).
#[derive(Debug, Default)]
pub struct Additions {
    /// `mqtt.event_entities`: an `event` entity per camera and category.
    pub event_entities: bool,
    /// `mqtt.camera_timeout`: connectivity and last-seen entities.
    pub presence: Option<Presence>,
}

impl Additions {
    pub fn new(config: &Config) -> Additions {
        let Some(m) = &config.mqtt else {
            return Additions::default();
        };
        Additions {
            event_entities: m.event_entities,
            presence: m
                .camera_timeout
                .map(|timeout| Presence::new(timeout, Some(&config.state_dir))),
        }
    }
}

/// What the bridge did with events, for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Events forwarded, by category.
    pub forwarded: Mutex<BTreeMap<&'static str, u64>>,
    /// Tracking posts skipped (as the vendor does).
    pub traject_skipped: AtomicU64,
    /// Repeat plates skipped (`dedup_seconds`).
    pub repeats_skipped: AtomicU64,
    /// Images that were not valid base64 (not published, not saved).
    pub bad_images: AtomicU64,
}

impl Bridge {
    /// Handles one event from `ip`.
    pub fn on_event(&self, event: &Event, ip: IpAddr) {
        let category = event.category();
        if category == Category::Traject {
            self.counters
                .traject_skipped
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut state = State::new(event, ip);
        if let (Some(dedup), Category::Lpr) = (&self.dedup, category) {
            let plate = state
                .plate_number()
                .filter(|p| !p.is_empty() && *p != "<NO PLATE>");
            if plate.is_some_and(|p| dedup.is_repeat(&state.camera_id, p)) {
                self.counters
                    .repeats_skipped
                    .fetch_add(1, Ordering::Relaxed);
                log::debug!("repeat plate {:?} from {ip} skipped", state.plate_number());
                return;
            }
        }
        let overview = self.decode(event.source_image_bytes());
        let target = self.decode(event.target_image_bytes());
        if let Some(page) = &self.page {
            page.record(event, ip, &state, [overview.as_deref(), target.as_deref()]);
        }
        if let Some(images) = &self.images {
            for (key, kind, bytes) in [
                ("overview_image", "overview", &overview),
                ("target_image", "target", &target),
            ] {
                if let Some(path) = bytes
                    .as_deref()
                    .and_then(|b| images.save(event.alarm_type(), kind, b))
                {
                    state.add_image_path(key, &path);
                }
            }
        }
        state.add_extras(event);
        let payload = state.to_bytes();
        let cat = category.as_str();
        if let (Some(mqtt), Some(naming)) = (&self.mqtt, &self.naming) {
            let id = state.camera_id.as_str();
            // A new entity's first state waits until Home Assistant has had
            // time to subscribe to it (see `mqtt`), on the publisher thread.
            let camera_name = state.camera_name.as_deref();
            let hold = mqtt.discover(id, cat, || {
                let mut configs = discovery::configs(naming, id, camera_name, ip, cat);
                if self.ours.event_entities {
                    configs.extend(events::config(naming, id, camera_name, ip, cat));
                }
                configs
            });
            let base = format!("{}/{id}", naming.topic_prefix);
            // Retained for LPR only, as the vendor: the last plate survives
            // a Home Assistant restart; motion-like sensors do not replay.
            let retain = category == Category::Lpr;
            let message = Message {
                topic: format!("{base}/{cat}"),
                payload: payload.clone(),
                retain,
            };
            mqtt.send_event(message, false, hold);
            for (name, bytes) in [("overview_image", overview), ("target_image", target)] {
                if let Some(bytes) = bytes {
                    let image = Message {
                        topic: format!("{base}/{name}"),
                        payload: bytes,
                        retain,
                    };
                    mqtt.send_event(image, true, hold);
                }
            }
            if self.ours.event_entities {
                if let Some(message) = events::message(naming, event, &state) {
                    mqtt.send_event(message, false, hold);
                }
            }
            if let Some(presence) = &self.ours.presence {
                presence.learn(mqtt, naming, ip, id, camera_name);
            }
        }
        if let Some(webhooks) = &self.webhooks {
            webhooks.send(cat, &payload);
        }
        *self
            .counters
            .forwarded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(cat)
            .or_default() += 1;
        let extra = match (state.plate_number(), category) {
            (Some(plate), _) => format!(
                " | {plate} ({})",
                state.json["plate_status"].as_str().unwrap_or("")
            ),
            (None, Category::Face) => format!(" | {} face(s)", event.faces().len()),
            _ => String::new(),
        };
        log::info!("{}{extra} from {ip}", event.description());
    }

    /// Image bytes worth publishing: decoded and not empty.
    fn decode(&self, image: Option<Result<Vec<u8>, viewtron::ImageError>>) -> Option<Vec<u8>> {
        match image? {
            Ok(bytes) if !bytes.is_empty() => Some(bytes),
            Ok(_) => None,
            Err(e) => {
                self.counters.bad_images.fetch_add(1, Ordering::Relaxed);
                log::debug!("image not published: {e}");
                None
            }
        }
    }

    /// Waits until `server` has stopped, watching the cameras' connectivity
    /// meanwhile (when it is on): the library's per-address last post,
    /// keepalives included, read every second on a thread of its own.
    pub fn wait(&self, server: &viewtron::Server) {
        let (Some(presence), Some(mqtt), Some(naming)) =
            (&self.ours.presence, &self.mqtt, &self.naming)
        else {
            server.wait();
            return;
        };
        let stop = server.shutdown_handle();
        std::thread::scope(|scope| {
            let watcher = std::thread::Builder::new()
                .name("presence".into())
                .spawn_scoped(scope, || {
                    presence.watch(
                        mqtt,
                        naming,
                        || server.stats().cameras,
                        || stop.is_shutdown(),
                    )
                });
            if let Err(e) = watcher {
                log::warn!("cannot watch the cameras' connectivity: {e}");
            }
            server.wait();
        });
    }

    /// `/healthz`: serving (we are answering) and, when MQTT is on, connected.
    pub fn healthy(&self) -> Result<(), &'static str> {
        match &self.mqtt {
            Some(mqtt) if !mqtt.connected() => Err("MQTT broker not connected"),
            _ => Ok(()),
        }
    }
}
