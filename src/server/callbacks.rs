//! The user's callbacks, why a post reached `on_unparsed`, and running
//! callbacks so that a panic never takes a worker down.

use std::fmt;
use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::{AlarmStatus, Event, ParseError, Unrecognized};

/// Why a post reached `on_unparsed` instead of `on_event`. `Display` gives the
/// Python SDK's reason strings.
///
/// ```
/// use viewtron::{Post, UnparsedReason, UnrecognizedReason};
///
/// assert_eq!(UnparsedReason::AlarmStatus.to_string(), "alarmStatus");
/// let Ok(Post::Unrecognized(u)) = viewtron::parse("<config version='2.0'/>") else { panic!() };
/// assert_eq!(u.reason, UnrecognizedReason::NoMessageType);
/// assert_eq!(UnparsedReason::Unrecognized(u).to_string(), "no-messageType");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum UnparsedReason {
    /// Well-formed, but not an event (`unknown-smartType`, `no-messageType`, …),
    /// with the `smartType` and description the post carried.
    Unrecognized(Unrecognized),
    /// Not UTF-8 or not XML (`parse-error`).
    Malformed(ParseError),
    /// A chunked POST with an empty body: not a keepalive (`parse-error`).
    EmptyChunked,
    /// An alarm status, when no `on_alarm_status` callback is set (`alarmStatus`).
    AlarmStatus,
}

impl UnparsedReason {
    /// The SDK's reason string.
    ///
    /// ```
    /// assert_eq!(viewtron::UnparsedReason::EmptyChunked.as_str(), "parse-error");
    /// ```
    pub fn as_str(&self) -> &'static str {
        match self {
            UnparsedReason::Unrecognized(u) => u.reason.as_str(),
            UnparsedReason::Malformed(_) | UnparsedReason::EmptyChunked => "parse-error",
            UnparsedReason::AlarmStatus => "alarmStatus",
        }
    }
}

impl fmt::Display for UnparsedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnparsedReason::Malformed(e) => write!(f, "parse-error: {e}"),
            other => f.write_str(other.as_str()),
        }
    }
}

pub(crate) type OnEvent = Arc<dyn Fn(Event, IpAddr) + Send + Sync>;
pub(crate) type OnConnect = Arc<dyn Fn(IpAddr) + Send + Sync>;
pub(crate) type OnRaw = Arc<dyn Fn(&str, IpAddr) + Send + Sync>;
pub(crate) type OnUnparsed = Arc<dyn Fn(&str, IpAddr, &UnparsedReason) + Send + Sync>;
pub(crate) type OnAlarmStatus = Arc<dyn Fn(AlarmStatus, IpAddr) + Send + Sync>;

#[derive(Default, Clone)]
pub(crate) struct Callbacks {
    pub on_event: Option<OnEvent>,
    pub on_connect: Option<OnConnect>,
    pub on_raw: Option<OnRaw>,
    pub on_unparsed: Option<OnUnparsed>,
    pub on_alarm_status: Option<OnAlarmStatus>,
}

impl fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn show<T>(c: &Option<T>) -> &'static str {
            if c.is_some() {
                "Some(..)"
            } else {
                "None"
            }
        }
        f.debug_struct("Callbacks")
            .field("on_event", &format_args!("{}", show(&self.on_event)))
            .field("on_connect", &format_args!("{}", show(&self.on_connect)))
            .field("on_raw", &format_args!("{}", show(&self.on_raw)))
            .field("on_unparsed", &format_args!("{}", show(&self.on_unparsed)))
            .field(
                "on_alarm_status",
                &format_args!("{}", show(&self.on_alarm_status)),
            )
            .finish()
    }
}

/// Runs a user callback; a panic is caught and logged, and `false` returned.
pub(crate) fn guarded(name: &str, ip: IpAddr, f: impl FnOnce()) -> bool {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => true,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".into());
            log::error!("{name} callback panicked on a post from {ip}: {msg}");
            false
        }
    }
}
