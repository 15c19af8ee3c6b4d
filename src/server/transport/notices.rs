//! Messages to the supervisor, each of which also wakes it from its `poll`
//! on the listening socket (the wake-up side of a Unix socket pair).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use crossbeam_channel::{Receiver, Sender, TryRecvError};

/// Messages to the supervisor.
#[derive(Debug)]
pub(crate) enum Notice {
    /// The accept loop of this generation reported an error.
    Dead(u64),
    /// Shutting down.
    Stop,
    /// A worker took the first request of a connection (see
    /// [`newcomers`](super::newcomers)).
    Newcomer,
}

/// The sending side of the supervisor's messages: each message also wakes
/// the supervisor from its `poll`.
pub(crate) struct Notices {
    tx: Sender<Notice>,
    wake: UnixStream,
}

impl Notices {
    pub fn send(&self, notice: Notice) -> Result<(), crossbeam_channel::SendError<Notice>> {
        self.tx.send(notice)?;
        // Non-blocking: a full socket already holds a wake-up.
        let _ = (&self.wake).write(&[1]);
        Ok(())
    }
}

/// The supervisor's side of [`Notices`].
pub(crate) struct Inbox {
    rx: Receiver<Notice>,
    wake: UnixStream,
}

/// A connected pair of [`Notices`] and [`Inbox`].
pub(crate) fn notices() -> std::io::Result<(Notices, Inbox)> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let (wake_tx, wake_rx) = UnixStream::pair()?;
    wake_tx.set_nonblocking(true)?;
    wake_rx.set_nonblocking(true)?;
    Ok((Notices { tx, wake: wake_tx }, Inbox { rx, wake: wake_rx }))
}

impl Inbox {
    /// The socket that becomes readable when a message is sent.
    pub fn wake(&self) -> &UnixStream {
        &self.wake
    }

    /// The next message, if any, after clearing the wake-ups.
    pub fn next(&self) -> Option<Notice> {
        let mut buf = [0u8; 64];
        while matches!((&self.wake).read(&mut buf), Ok(n) if n > 0) {}
        match self.rx.try_recv() {
            Ok(notice) => Some(notice),
            Err(TryRecvError::Disconnected) => Some(Notice::Stop),
            Err(TryRecvError::Empty) => None,
        }
    }
}
