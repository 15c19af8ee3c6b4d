//! Real parts for the bridge's tests: a mosquitto broker on a free loopback
//! port with a configuration the test writes, the `viewtron-bridge` binary,
//! an MQTT subscriber, a camera that posts fixtures, and a webhook receiver.
//! Every wait is bounded; everything started is stopped on drop.
//!
//! mosquitto missing: with `CI` set the tests fail loudly (CI installs it);
//! otherwise they print why and return early.
//!
//! `base` (waits, ports, folders, tools, the Docker variables; shared with
//! the compatibility test) is the leaf; `broker` builds on it, `bridge` on
//! both, `webhook` on `base`.

#![allow(dead_code)]

mod base;
mod bridge;
mod broker;
mod webhook;

// Each test uses a part of these.
#[allow(unused_imports)]
pub use {base::*, bridge::*, broker::*, webhook::*};
