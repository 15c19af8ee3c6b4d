//! The shutdown sequence, in order, in one place.
//!
//! [`begin`] runs on the thread that asks (`Server::shutdown`, a
//! `ShutdownHandle`, or dropping the `Server`); [`Leaving`] runs as each pool
//! worker leaves, the last one finishing the sequence; `Server::wait`
//! blocks on `Shared::stopped` until then.
//!
//! 1. **Stop accepting** ([`begin`]): `stopping` is set and the listening
//!    socket is shut down, so new connections are refused from this moment,
//!    tiny_http's accept thread ends, and a pool flush of the supervisor in
//!    progress fails its next probe at once instead of waiting for an
//!    answer no one will give.
//! 2. **End the channel's root** ([`begin`]): the server's own sender is
//!    dropped, so that only the workers' clones keep `events()` open.
//! 3. **Wake the supervisor** ([`begin`]): it returns from its `poll`.
//! 4. **Wake the workers** ([`begin`]): one wake-up per live worker (spares
//!    included) on the current generation's queue; each worker finishes the
//!    request in its hands, sees `stopping` and leaves. The watch thread
//!    (bodies' deadlines, spare workers) is told to end too: it starts no
//!    spare from now on, and `Server::wait` joins it with the supervisor.
//! 5. **Drain** ([`Leaving`], last worker out): requests tiny_http had
//!    already queued are answered and delivered, as promised.
//! 6. **Drop the generation** ([`Leaving`]): tiny_http's server, its queue
//!    and its duplicate of the listening socket go.
//! 7. **End `events()`** (each worker dropping its sender as it leaves; the
//!    last one after the drain): the iterator ends once drained.
//! 8. **Tell `wait()`** ([`Leaving`] sets `Shared::stopped`); `Server::wait` then
//!    joins the supervisor, which has already returned (step 3), and the
//!    watch thread (step 4).
//!
//! Connections that are still open stay open (tiny_http keeps no handle to
//! close them); posts sent on them afterwards get no answer.

use std::sync::atomic::Ordering;

use super::generation::Generation;
use super::notices::Notice;
use super::state::Shared;

/// Steps 1 to 4. Idempotent: only the first call does anything.
pub(crate) fn begin(shared: &Shared) {
    if shared.stopping.swap(true, Ordering::SeqCst) {
        return;
    }
    log::debug!("shutting down");
    // 1. Shut down, not closed: the descriptor stays valid for whoever still
    // holds it, but the socket accepts nothing more (Linux; elsewhere it
    // closes when the last duplicate does).
    let _ = socket2::SockRef::from(&shared.listener).shutdown(std::net::Shutdown::Both);
    // 2.
    shared.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
    // 3.
    let _ = shared.notices.send(Notice::Stop);
    // 4.
    shared.watch.stop();
    if let Some(current) = shared.current.get() {
        for _ in 0..shared.live_workers.load(Ordering::SeqCst) {
            current.http.unblock();
        }
    }
}

/// Steps 5, 6 and 8, when dropped by the last pool worker to leave (also by
/// panic). `drain` answers and delivers what is queued on a generation.
pub(crate) struct Leaving<'a, F: Fn(&Generation)> {
    pub shared: &'a Shared,
    pub drain: F,
}

impl<F: Fn(&Generation)> Drop for Leaving<'_, F> {
    fn drop(&mut self) {
        let shared = self.shared;
        if shared.live_workers.fetch_sub(1, Ordering::SeqCst) != 1 {
            return;
        }
        // 5, 6. Taking the generation out of `current` means no one can
        // reach it any more: once drained, dropping it is final.
        if let Some(generation) = shared.current.take() {
            if !std::thread::panicking() {
                (self.drain)(&generation);
            }
        }
        // 8.
        shared.stopped.set();
    }
}
