//! The events channel as users see it: [`Events`] and the errors of its
//! non-blocking and timed receives.
//!
//! A leaf below the server: it knows the channel's receiving end and nothing
//! of workers or shutdown. The server closes the sending end once it has
//! stopped and every accepted event is queued, which is what
//! [`TryRecvError::Stopped`] and [`RecvTimeoutError::Stopped`] report.

use std::time::Duration;

use crossbeam_channel::Receiver;

use crate::Event;

/// Blocking iterator over a server's events; see
/// [`Server::events`](crate::Server::events).
///
/// Besides iterating, [`recv`](Events::recv), [`try_recv`](Events::try_recv)
/// and [`recv_timeout`](Events::recv_timeout) mirror `crossbeam-channel`: the
/// last two tell "nothing yet" from "the server has stopped and everything
/// was yielded".
///
/// ```
/// use std::time::Duration;
/// use viewtron::{RecvTimeoutError, TryRecvError};
///
/// let server = viewtron::Server::builder().port(0).build()?;
/// let events = server.events();
/// assert_eq!(events.try_recv().unwrap_err(), TryRecvError::Empty);
/// assert_eq!(
///     events.recv_timeout(Duration::from_millis(10)).unwrap_err(),
///     RecvTimeoutError::Timeout,
/// );
/// server.shutdown();
/// server.wait();
/// assert_eq!(events.try_recv().unwrap_err(), TryRecvError::Stopped);
/// # Ok::<(), viewtron::BuildError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Events {
    rx: Receiver<Event>,
}

impl Events {
    pub(super) fn new(rx: Receiver<Event>) -> Events {
        Events { rx }
    }

    /// Waits for the next event; `None` once the server has stopped and
    /// everything was yielded (so `None` always means "stopped").
    ///
    /// ```
    /// # let server = viewtron::Server::builder().port(0).build()?;
    /// # let events = server.events();
    /// # drop(server);
    /// assert!(events.recv().is_none());
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn recv(&self) -> Option<Event> {
        self.rx.recv().ok()
    }

    /// The next event if one is queued, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when no event is queued now;
    /// [`TryRecvError::Stopped`] once the server has stopped and every
    /// event was yielded (none will ever come).
    ///
    /// ```
    /// use viewtron::TryRecvError;
    ///
    /// let server = viewtron::Server::builder().port(0).build()?;
    /// let events = server.events();
    /// loop {
    ///     match events.try_recv() {
    ///         Ok(event) => println!("{}", event.description()),
    ///         Err(TryRecvError::Empty) => {
    ///             // Nothing queued: do other work, then poll again. Here: stop.
    ///             server.shutdown();
    ///             server.wait();
    ///         }
    ///         Err(TryRecvError::Stopped) => break,
    ///     }
    /// }
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn try_recv(&self) -> Result<Event, TryRecvError> {
        self.rx.try_recv().map_err(|e| match e {
            crossbeam_channel::TryRecvError::Empty => TryRecvError::Empty,
            crossbeam_channel::TryRecvError::Disconnected => TryRecvError::Stopped,
        })
    }

    /// Waits at most `timeout` for the next event.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] when no event came in time;
    /// [`RecvTimeoutError::Stopped`] once the server has stopped and every
    /// event was yielded (none will ever come).
    ///
    /// ```
    /// use std::time::Duration;
    /// use viewtron::RecvTimeoutError;
    ///
    /// let server = viewtron::Server::builder().port(0).build()?;
    /// let events = server.events();
    /// let stop = server.shutdown_handle();
    /// let mut quiet_spells = 0;
    /// loop {
    ///     match events.recv_timeout(Duration::from_millis(20)) {
    ///         Ok(event) => println!("{}", event.description()),
    ///         Err(RecvTimeoutError::Timeout) => {
    ///             quiet_spells += 1; // time for housekeeping; here: stop
    ///             stop.shutdown();
    ///         }
    ///         Err(RecvTimeoutError::Stopped) => break,
    ///     }
    /// }
    /// assert!(quiet_spells >= 1);
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event, RecvTimeoutError> {
        self.rx.recv_timeout(timeout).map_err(|e| match e {
            crossbeam_channel::RecvTimeoutError::Timeout => RecvTimeoutError::Timeout,
            crossbeam_channel::RecvTimeoutError::Disconnected => RecvTimeoutError::Stopped,
        })
    }
}

impl Iterator for Events {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.recv()
    }
}

impl Iterator for &Events {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.recv()
    }
}

/// Why [`Events::try_recv`] returned no event.
///
/// ```
/// use viewtron::TryRecvError;
///
/// assert_eq!(TryRecvError::Empty.to_string(), "no event is queued");
/// assert!(TryRecvError::Stopped.is_stopped());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum TryRecvError {
    /// No event is queued now; more may come.
    #[error("no event is queued")]
    Empty,
    /// The server has stopped and every event was yielded.
    #[error("the server has stopped and every event was yielded")]
    Stopped,
}

impl TryRecvError {
    /// Whether the server has stopped (no event will ever come).
    ///
    /// ```
    /// assert!(!viewtron::TryRecvError::Empty.is_stopped());
    /// ```
    pub fn is_stopped(&self) -> bool {
        matches!(self, TryRecvError::Stopped)
    }
}

/// Why [`Events::recv_timeout`] returned no event.
///
/// ```
/// use viewtron::RecvTimeoutError;
///
/// assert_eq!(RecvTimeoutError::Timeout.to_string(), "no event came in time");
/// assert!(RecvTimeoutError::Stopped.is_stopped());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RecvTimeoutError {
    /// No event came within the timeout; more may come.
    #[error("no event came in time")]
    Timeout,
    /// The server has stopped and every event was yielded.
    #[error("the server has stopped and every event was yielded")]
    Stopped,
}

impl RecvTimeoutError {
    /// Whether the server has stopped (no event will ever come).
    ///
    /// ```
    /// assert!(!viewtron::RecvTimeoutError::Timeout.is_stopped());
    /// ```
    pub fn is_stopped(&self) -> bool {
        matches!(self, RecvTimeoutError::Stopped)
    }
}
