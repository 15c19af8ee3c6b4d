//! Access control and request hygiene: source allowlist, HTTP Basic
//! credentials, body framing checks, and refusal logging that a flood
//! cannot turn into a log flood.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// An IP network in CIDR notation (`192.168.1.0/24`, `fd00::/8`), or a
/// single address (`10.0.0.7`), for [`ServerBuilder::allow`](super::ServerBuilder::allow).
///
/// ```
/// use viewtron::Cidr;
///
/// let lan: Cidr = "192.168.1.0/24".parse()?;
/// assert!(lan.contains("192.168.1.77".parse().unwrap()));
/// assert!(!lan.contains("192.168.2.1".parse().unwrap()));
/// // IPv4-mapped IPv6 peers match IPv4 networks.
/// assert!(lan.contains("::ffff:192.168.1.9".parse().unwrap()));
/// # Ok::<(), viewtron::CidrError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why a [`Cidr`] did not parse.
///
/// ```
/// assert!("10.0.0.0/33".parse::<viewtron::Cidr>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid network `{0}`: expected an IP address or ADDRESS/PREFIX")]
pub struct CidrError(String);

impl Cidr {
    /// Whether `ip` is inside this network.
    ///
    /// ```
    /// let any6: viewtron::Cidr = "::/0".parse()?;
    /// assert!(any6.contains("2001:db8::1".parse().unwrap()));
    /// # Ok::<(), viewtron::CidrError>(())
    /// ```
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let err = || CidrError(s.to_owned());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| err())?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(err)?,
            None => max,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The user name and password given to
/// [`basic_auth`](super::ServerBuilder::basic_auth). `Debug` shows the user
/// name and never the password.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct BasicAuth {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

/// The `Authorization` value a camera must send, precomputed.
#[derive(Clone)]
pub(crate) struct Credentials {
    token: Vec<u8>,
}

impl Credentials {
    pub fn new(auth: &BasicAuth) -> Credentials {
        Credentials {
            token: STANDARD
                .encode(format!("{}:{}", auth.user, auth.password))
                .into_bytes(),
        }
    }

    /// Checks an `Authorization` header value in time independent of where
    /// it differs from the expected one.
    pub fn check(&self, header: Option<&str>) -> bool {
        let Some(value) = header else { return false };
        let value = value.trim();
        let Some((scheme, token)) = value.split_once(' ') else {
            return false;
        };
        scheme.eq_ignore_ascii_case("basic")
            && constant_time_eq(token.trim().as_bytes(), &self.token)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(..)")
    }
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff);
    }
    diff == 0
}

/// How a request's body is framed, after checking the headers tiny_http
/// would otherwise resolve silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Content-Length: n` (or no body at all: 0).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Rejects ambiguous framing: several different `Content-Length`s, a
/// non-numeric one, both `Content-Length` and `Transfer-Encoding`, any
/// transfer coding other than a single `chunked`, or a `Transfer-Encoding`
/// in an HTTP/1.0 request (RFC 9112 §6.1: its framing is faulty).
pub(crate) fn framing<'a>(
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    http_1_0: bool,
) -> Result<Framing, &'static str> {
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("Content-Length") {
            let v = value.trim();
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err("malformed Content-Length");
            }
            let n = v.parse::<u64>().map_err(|_| "malformed Content-Length")?;
            if length.is_some_and(|l| l != n) {
                return Err("conflicting Content-Length headers");
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("Transfer-Encoding") {
            if chunked || !value.trim().eq_ignore_ascii_case("chunked") {
                return Err("unsupported Transfer-Encoding");
            }
            chunked = true;
        }
    }
    match (length, chunked) {
        (_, true) if http_1_0 => Err("Transfer-Encoding in an HTTP/1.0 request"),
        (Some(_), true) => Err("both Content-Length and Transfer-Encoding"),
        (_, true) => Ok(Framing::Chunked),
        (n, false) => Ok(Framing::Length(n.unwrap_or(0))),
    }
}

/// Allows one log line per second per key; counts what it suppresses.
#[derive(Debug, Default)]
pub(crate) struct LogLimiter {
    second: AtomicU64,
    suppressed: AtomicU64,
}

impl LogLimiter {
    /// `Some(n)` when a line may be written now, `n` being how many were
    /// suppressed since the last one.
    pub fn allow(&self) -> Option<u64> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.second.load(Relaxed);
        if now != last
            && self
                .second
                .compare_exchange(last, now, Relaxed, Relaxed)
                .is_ok()
        {
            Some(self.suppressed.swap(0, Relaxed))
        } else {
            self.suppressed.fetch_add(1, Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_matching() {
        let net: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        let one: Cidr = "fd00::7".parse().unwrap();
        assert!(one.contains("fd00::7".parse().unwrap()));
        assert!(!one.contains("fd00::8".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!("1.2.3.4/x".parse::<Cidr>().is_err());
        assert!("::/129".parse::<Cidr>().is_err());
        assert_eq!(
            "::ffff:10.0.0.1/32".parse::<Cidr>().unwrap().to_string(),
            "10.0.0.1/32"
        );
    }

    #[test]
    fn basic_credentials() {
        let auth = BasicAuth {
            user: "cam".into(),
            password: "s3cret".into(),
        };
        assert_eq!(
            format!("{auth:?}"),
            r#"BasicAuth { user: "cam", password: "***" }"#
        );
        let c = Credentials::new(&auth);
        assert_eq!(format!("{c:?}"), "Credentials(..)");
        assert!(c.check(Some("Basic Y2FtOnMzY3JldA==")));
        assert!(c.check(Some("basic  Y2FtOnMzY3JldA== ")));
        assert!(!c.check(Some("Basic Y2FtOnMzY3JldA")));
        assert!(!c.check(Some("Bearer Y2FtOnMzY3JldA==")));
        assert!(!c.check(Some("Basic Y2FtOnMzY3JldB==")));
        assert!(!c.check(None));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"\xff"));
    }

    #[test]
    fn framing_rules() {
        let f = |h: &[(&'static str, &'static str)]| framing(h.iter().copied(), false);
        assert_eq!(f(&[]), Ok(Framing::Length(0)));
        assert_eq!(f(&[("content-length", "12")]), Ok(Framing::Length(12)));
        assert_eq!(
            f(&[("Content-Length", "5"), ("Content-Length", "5")]),
            Ok(Framing::Length(5))
        );
        assert_eq!(f(&[("Transfer-Encoding", "Chunked")]), Ok(Framing::Chunked));
        assert!(f(&[("Content-Length", "5"), ("Content-Length", "6")]).is_err());
        assert!(f(&[("Content-Length", "abc")]).is_err());
        assert!(f(&[("Content-Length", "-1")]).is_err());
        assert!(f(&[("Content-Length", "99999999999999999999999")]).is_err());
        assert!(f(&[("Content-Length", "3"), ("Transfer-Encoding", "chunked")]).is_err());
        assert!(f(&[("Transfer-Encoding", "gzip, chunked")]).is_err());
        assert!(f(&[
            ("Transfer-Encoding", "chunked"),
            ("Transfer-Encoding", "chunked")
        ])
        .is_err());
        assert!(f(&[("Transfer-Encoding", "chunked, identity")]).is_err());
        assert!(f(&[("Transfer-Encoding", "xchunked"), ("Content-Length", "3")]).is_err());
        let http_1_0 = |h: &[(&'static str, &'static str)]| framing(h.iter().copied(), true);
        assert!(http_1_0(&[("Transfer-Encoding", "chunked")]).is_err());
        assert_eq!(http_1_0(&[("Content-Length", "3")]), Ok(Framing::Length(3)));
    }

    #[test]
    fn log_limiter_suppresses_within_a_second() {
        let l = LogLimiter::default();
        let first = l.allow();
        assert_eq!(first, Some(0));
        // Within the same second, further lines are suppressed and counted
        // (a second boundary may pass once; allow for that).
        let allowed = (0..100).filter(|_| l.allow().is_some()).count();
        assert!(allowed <= 1, "{allowed}");
    }
}
