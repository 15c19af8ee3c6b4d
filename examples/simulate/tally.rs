//! What one connection counted, merged into the run's totals at the end.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::args::Config;

/// Error messages printed (without --quiet) before going silent.
const MAX_ERROR_LINES: u64 = 10;
static ERROR_LINES: AtomicU64 = AtomicU64::new(0);

#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) posts: u64,
    pub(crate) ok: u64,
    pub(crate) errors: u64,
    pub(crate) keepalives: u64,
    pub(crate) bytes: u64,
    /// Microseconds, one per ok post.
    pub(crate) latency: Vec<u32>,
    /// Microseconds to each connection's first answer (from its connect).
    pub(crate) first: Vec<u32>,
}

impl Tally {
    pub(crate) fn fail(&mut self, cfg: &Config, index: usize, what: &str, e: &io::Error) {
        self.errors += 1;
        let n = ERROR_LINES.fetch_add(1, Relaxed);
        if !cfg.quiet && n < MAX_ERROR_LINES {
            let more = if n + 1 == MAX_ERROR_LINES {
                " (no more error lines)"
            } else {
                ""
            };
            eprintln!("simulate: connection {index}: {what} failed: {e}{more}");
        }
    }

    pub(crate) fn add(&mut self, other: Tally) {
        self.posts += other.posts;
        self.ok += other.ok;
        self.errors += other.errors;
        self.keepalives += other.keepalives;
        self.bytes += other.bytes;
        self.latency.extend_from_slice(&other.latency);
        self.first.extend_from_slice(&other.first);
    }
}
