//! The camera's address behind a reverse proxy.
//!
//! IP camera alarm posts carry no identity the server can trust, so the
//! server tells cameras apart by address. Behind a proxy (the nginx front in
//! `deploy/`) every connection comes from the proxy; the proxy names the
//! camera in `X-Forwarded-For`. That header is believed only from a peer the
//! user declared trusted ([`ServerBuilder::trusted_proxies`]), because anyone
//! else can write anything into it.
//!
//! The header is a list, each proxy appending the address it received the
//! request from: `client, proxy1, proxy2`. Only the right-most entries were
//! written by trusted hops; everything left of the first untrusted entry may
//! have been forged by the client. So the list is walked from the right,
//! skipping trusted addresses, and the first address that is not trusted is
//! the camera. An entry that is not an address stops the walk: the last
//! trusted hop seen is then the best answer anyone can give.
//!
//! [`ServerBuilder::trusted_proxies`]: super::ServerBuilder::trusted_proxies

use std::net::{IpAddr, SocketAddr};

use super::guard::Cidr;

/// The header a trusted proxy names the client in.
pub(crate) const HEADER: &str = "X-Forwarded-For";

/// The camera's address: `peer` itself unless `peer` is trusted and the
/// request carries `X-Forwarded-For` (every such header, in order, forms
/// one list).
pub(crate) fn camera_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[Cidr],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let entries: Vec<&str> = forwarded_for.flat_map(|value| value.split(',')).collect();
    let mut nearest = peer;
    for entry in entries.iter().rev() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let Some(ip) = parse_entry(entry) else {
            log::debug!("unusable {HEADER} entry {entry:?} from {peer}");
            return nearest;
        };
        if !is_trusted(ip) {
            return ip;
        }
        nearest = ip;
    }
    // Every hop is trusted: the left-most one is where the request began.
    nearest
}

/// `192.0.2.7`, `192.0.2.7:5000`, `2001:db8::1` or `[2001:db8::1]:5000`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse().ok())
        })?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn resolve(peer: &str, headers: &[&str], trusted: &[&str]) -> IpAddr {
        camera_ip(ip(peer), headers.iter().copied(), &nets(trusted))
    }

    #[test]
    fn an_untrusted_peer_is_the_camera_whatever_it_claims() {
        assert_eq!(
            resolve("192.0.2.9", &["203.0.113.7"], &["127.0.0.1"]),
            ip("192.0.2.9")
        );
        assert_eq!(resolve("192.0.2.9", &["203.0.113.7"], &[]), ip("192.0.2.9"));
    }

    #[test]
    fn a_trusted_peer_names_the_camera() {
        let trusted = ["127.0.0.1"];
        assert_eq!(
            resolve("127.0.0.1", &["192.168.1.20"], &trusted),
            ip("192.168.1.20")
        );
        // No header: the proxy itself (a health check, a local tool).
        assert_eq!(resolve("127.0.0.1", &[], &trusted), ip("127.0.0.1"));
        // IPv4-mapped peers and entries count as IPv4.
        assert_eq!(
            resolve("::ffff:127.0.0.1", &["::ffff:192.168.1.20"], &trusted),
            ip("192.168.1.20")
        );
    }

    #[test]
    fn the_right_most_untrusted_entry_wins() {
        let trusted = ["127.0.0.1", "10.0.0.0/8"];
        // The client forged the first entry; the proxies appended the rest.
        assert_eq!(
            resolve(
                "127.0.0.1",
                &["203.0.113.66, 192.168.1.20, 10.1.2.3"],
                &trusted
            ),
            ip("192.168.1.20")
        );
        // Several headers form one list, in order.
        assert_eq!(
            resolve(
                "127.0.0.1",
                &["203.0.113.66", "192.168.1.20,10.1.2.3"],
                &trusted
            ),
            ip("192.168.1.20")
        );
        // All trusted: the left-most hop.
        assert_eq!(
            resolve("127.0.0.1", &["10.9.9.9, 10.1.2.3"], &trusted),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn ports_brackets_and_spaces() {
        let trusted = ["127.0.0.1"];
        for entry in ["192.0.2.7:5000", " 192.0.2.7 ", "192.0.2.7"] {
            assert_eq!(resolve("127.0.0.1", &[entry], &trusted), ip("192.0.2.7"));
        }
        for entry in ["[2001:db8::1]:80", "[2001:db8::1]", "2001:db8::1"] {
            assert_eq!(resolve("127.0.0.1", &[entry], &trusted), ip("2001:db8::1"));
        }
        assert_eq!(
            resolve("127.0.0.1", &["192.0.2.7,,"], &trusted),
            ip("192.0.2.7")
        );
    }

    #[test]
    fn garbage_stops_at_the_nearest_trusted_hop() {
        let trusted = ["127.0.0.1", "10.0.0.0/8"];
        assert_eq!(
            resolve("127.0.0.1", &["unknown"], &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(
            resolve("127.0.0.1", &["192.0.2.7, _hidden, 10.1.2.3"], &trusted),
            ip("10.1.2.3")
        );
    }
}
