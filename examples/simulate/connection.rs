//! One connection's loop: posts (paced by `--rate`), keepalives, and the
//! stop at `-n` posts or `-d` seconds.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::args::Config;
use crate::burst::{self, Opened};
use crate::link::Link;
use crate::tally::Tally;

/// Posts handed out so far: ticket `i` sends file `i % files`.
pub(crate) static TICKETS: AtomicU64 = AtomicU64::new(0);

pub(crate) fn run_connection(
    cfg: &Config,
    index: usize,
    handoff: Option<mpsc::Receiver<Opened>>,
    start: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut link = Link::new();
    // In a burst the first post was sent for us; its answer is read here.
    if let Some(opened) = handoff.and_then(|rx| rx.recv().ok()) {
        burst::first_answer(cfg, index, opened, &mut link, &mut tally);
    }
    let deadline = cfg.duration.map(|d| start + d);
    let conns = cfg.connections as u32;
    // Each connection paces itself at rate / connections, staggered.
    let interval = cfg
        .rate
        .map(|r| Duration::from_secs_f64(f64::from(conns) / r));
    let mut next_post = start + interval.unwrap_or_default() * index as u32 / conns;
    let mut next_keepalive = cfg.keepalive_every.map(|every| start + every);
    let expected = match (cfg.count, cfg.rate, cfg.duration) {
        (n, _, _) if n != u64::MAX => n / u64::from(conns) + 1,
        (_, Some(r), Some(d)) => (r * d.as_secs_f64()) as u64 / u64::from(conns) + 1,
        _ => 1 << 16,
    };
    tally.latency.reserve(expected.min(1 << 20) as usize);
    loop {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break;
        }
        if let (Some(at), Some(every)) = (next_keepalive, cfg.keepalive_every) {
            if now >= at {
                next_keepalive = Some((at + every).max(now));
                tally.keepalives += 1;
                match link.exchange(cfg, &cfg.keepalive) {
                    Ok(()) => tally.bytes += cfg.keepalive.len() as u64,
                    Err(e) => tally.fail(cfg, index, "keepalive", &e),
                }
                continue;
            }
        }
        if let Some(interval) = interval {
            if now < next_post {
                let wake = [Some(next_post), next_keepalive, deadline]
                    .into_iter()
                    .flatten()
                    .min();
                std::thread::sleep(wake.unwrap_or(next_post).saturating_duration_since(now));
                continue;
            }
            next_post += interval;
        }
        let ticket = TICKETS.fetch_add(1, Relaxed);
        if ticket >= cfg.count {
            break;
        }
        let req = &cfg.posts[(ticket % cfg.posts.len() as u64) as usize];
        tally.posts += 1;
        match link.exchange(cfg, req) {
            Ok(()) => {
                tally.ok += 1;
                tally.bytes += req.len() as u64;
                let micros = u32::try_from(now.elapsed().as_micros()).unwrap_or(u32::MAX);
                if tally.ok == 1 {
                    tally.first.push(micros);
                }
                tally.latency.push(micros);
            }
            Err(e) => tally.fail(cfg, index, "post", &e),
        }
    }
    tally
}
