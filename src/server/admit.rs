//! The admission checks, in the order a request meets them, each giving the
//! [`Refusal`] that turns it away. They only look at the request's head: no
//! body byte has been read when they run, so a refused body is never read
//! (see the worker's `refuse` for how its connection then ends).
//!
//! 1. [`head`], for every method: the source address (allowlist), the size
//!    of the header block, the body's framing. Framing is checked even for a
//!    `GET`: tiny_http would otherwise resolve a doubtful one its own way and
//!    read the rest as a request.
//! 2. [`post`], for a `POST`: the path, the credentials, the declared size.

use std::net::IpAddr;

use tiny_http::{HTTPVersion, Request};

use super::config::Config;
use super::guard::{self, Credentials, Framing};
use super::refusal::Refusal;
use crate::limits::{MAX_HEADERS, MAX_HEADER_BYTES};

/// Checks that apply to every request; the body's framing when it passes.
pub(crate) fn head(config: &Config, request: &Request, ip: IpAddr) -> Result<Framing, Refusal> {
    let allow = &config.allow;
    if !allow.is_empty() && !allow.iter().any(|net| net.contains(ip)) {
        return Err(Refusal::Forbidden);
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|h| h.field.as_str().as_str().len() + h.value.as_str().len())
        .sum();
    if request.headers().len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        return Err(Refusal::TooManyHeaders);
    }
    let headers = request
        .headers()
        .iter()
        .map(|h| (h.field.as_str().as_str(), h.value.as_str()));
    let http_1_0 = *request.http_version() == HTTPVersion(1, 0);
    guard::framing(headers, http_1_0).map_err(|why| {
        log::debug!("bad framing from {ip}: {why}");
        Refusal::BadFraming
    })
}

/// Checks that apply to a `POST` at `path` whose head passed [`head`].
pub(crate) fn post(
    config: &Config,
    credentials: Option<&Credentials>,
    request: &Request,
    path: &str,
    framing: Framing,
) -> Result<(), Refusal> {
    let paths = &config.paths;
    if !paths.is_empty() && !paths.iter().any(|p| p == path) {
        return Err(Refusal::NotFound);
    }
    if let Some(credentials) = credentials {
        if !credentials.check(find_header(request, "Authorization")) {
            return Err(Refusal::Unauthorized);
        }
    }
    match framing {
        Framing::Length(n) if n > config.max_body as u64 => Err(Refusal::TooLarge),
        _ => Ok(()),
    }
}

fn find_header<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
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
