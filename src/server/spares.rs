//! The worker pool as the watch sees it: how many workers there are, how
//! many to keep free, starting a spare, and cutting a connection at its
//! body's deadline (see `watch`, which depends on none of this).

use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::state::Shared;
use super::watch::Workers;
use super::worker::Worker;

/// The pool of a running server.
pub(crate) struct Workforce(pub Arc<Shared>);

impl Workers for Workforce {
    fn live(&self) -> usize {
        self.0.live_workers.load(Ordering::SeqCst)
    }

    fn wanted(&self) -> usize {
        self.0.config.workers
    }

    fn cap(&self) -> usize {
        self.0.config.max_workers.max(self.0.config.workers)
    }

    fn spawn(&self) -> bool {
        let shared = &self.0;
        if shared.stopping.load(Ordering::SeqCst) {
            return false;
        }
        shared.live_workers.fetch_add(1, Ordering::SeqCst);
        let worker = Worker::spare(shared.clone());
        let spawned = std::thread::Builder::new()
            .name("viewtron-worker-spare".into())
            .spawn(move || worker.run());
        match spawned {
            Ok(_) => true,
            Err(e) => {
                shared.live_workers.fetch_sub(1, Ordering::SeqCst);
                if shared.refusal_log.allow().is_some() {
                    log::error!("cannot start a spare worker: {e}");
                }
                false
            }
        }
    }

    fn cut(&self, peer: SocketAddr) -> bool {
        self.0
            .closer
            .socket(peer)
            .is_some_and(|socket| socket.shutdown(Shutdown::Read).is_ok())
    }
}
