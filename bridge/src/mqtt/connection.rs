//! The `mqtt-connection` thread: drives rumqttc's event loop (connects,
//! reconnects with backoff, reads acknowledgements) and tells the publisher
//! what happened, in order. On a failure it closes the gate first, then
//! empties rumqttc's request channel, so nothing from the old session leaks
//! into the new one.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use rumqttc::{Client, Connection, Event, Outgoing, Packet, QoS, RecvTimeoutError};

use super::shared::{lock, Control, Shared, TICK};

/// First and longest pause between connection attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(5));

pub(super) fn connection_loop(
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
