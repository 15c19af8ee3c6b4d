//! The admission checks, in the order a request meets them, each giving the
//! [`Refusal`] that turns it away. They only look at the request's head: no
//! body byte has been read when they run, so a refused body is never read
//! (see `stages`' `refuse` for how its connection then ends).
//!
//! 1. [`Admission::head`], for every method: the source address (allowlist), the size
//!    of the header block, the body's framing. Framing is checked even for a
//!    `GET`: tiny_http would otherwise resolve a doubtful one its own way and
//!    read the rest as a request.
//! 2. [`Admission::post`], for a `POST`: the path, the credentials, the declared size.

use std::net::{IpAddr, Ipv4Addr};

use crate::limits::{MAX_HEADERS, MAX_HEADER_BYTES};
use crate::server::config::Config;
use crate::server::forwarded;
use crate::server::guard::{self, Cidr, Credentials, Framing};
use crate::server::refusal::Refusal;
use crate::server::transport::Exchange;

/// What the admission checks need, taken from the configuration at start.
pub(crate) struct Admission {
    allow: Vec<Cidr>,
    trusted_proxies: Vec<Cidr>,
    paths: Vec<String>,
    credentials: Option<Credentials>,
    max_body: usize,
}

impl Admission {
    pub fn new(config: &Config) -> Admission {
        Admission {
            allow: config.allow.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
            paths: config.paths.clone(),
            credentials: config.credentials.as_ref().map(Credentials::new),
            max_body: config.max_body,
        }
    }

    /// The camera: the peer, or the address a trusted proxy names for it.
    pub fn camera_ip(&self, exchange: &Exchange<'_>) -> IpAddr {
        let peer = exchange
            .peer()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip().to_canonical());
        let forwarded_for = exchange
            .headers()
            .filter(|(field, _)| field.eq_ignore_ascii_case(forwarded::HEADER))
            .map(|(_, value)| value);
        forwarded::camera_ip(peer, forwarded_for, &self.trusted_proxies)
    }

    /// Checks that apply to every request; the body's framing when it passes.
    pub fn head(&self, exchange: &Exchange<'_>, ip: IpAddr) -> Result<Framing, Refusal> {
        if !self.allow.is_empty() && !self.allow.iter().any(|net| net.contains(ip)) {
            return Err(Refusal::Forbidden);
        }
        let (mut count, mut bytes) = (0, 0);
        for (field, value) in exchange.headers() {
            count += 1;
            bytes += field.len() + value.len();
        }
        if count > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
            return Err(Refusal::TooManyHeaders);
        }
        guard::framing(exchange.headers(), exchange.http_1_0()).map_err(|why| {
            log::debug!("bad framing from {ip}: {why}");
            Refusal::BadFraming
        })
    }

    /// Checks that apply to a `POST` at `path` whose head passed [`head`](Self::head).
    pub fn post(
        &self,
        exchange: &Exchange<'_>,
        path: &str,
        framing: Framing,
    ) -> Result<(), Refusal> {
        if !self.paths.is_empty() && !self.paths.iter().any(|p| p == path) {
            return Err(Refusal::NotFound);
        }
        if let Some(credentials) = &self.credentials {
            if !credentials.check(exchange.header("Authorization")) {
                return Err(Refusal::Unauthorized);
            }
        }
        match framing {
            Framing::Length(n) if n > self.max_body as u64 => Err(Refusal::TooLarge),
            _ => Ok(()),
        }
    }
}

/// The path of a request target, in origin or absolute form, without query.
pub(crate) fn target_path(url: &str) -> &str {
    let rest = ["http://", "https://"]
        .iter()
        .find_map(|scheme| {
            url.get(..scheme.len())
                .filter(|p| p.eq_ignore_ascii_case(scheme))
                .map(|_| &url[scheme.len()..])
        })
        .map(|after| after.find('/').map_or("/", |i| &after[i..]))
        .unwrap_or(url);
    rest.split(['?', '#']).next().unwrap_or("/")
}

#[cfg(test)]
mod tests {
    use super::target_path;

    #[test]
    fn paths_in_origin_and_absolute_form() {
        assert_eq!(target_path("/API"), "/API");
        assert_eq!(target_path("/API?x=1"), "/API");
        assert_eq!(target_path("http://192.168.0.56:5002/API"), "/API");
        assert_eq!(target_path("HTTP://host/API/x?y"), "/API/x");
        assert_eq!(target_path("http://host"), "/");
        assert_eq!(target_path("https://[::1]:80/a"), "/a");
    }
}
