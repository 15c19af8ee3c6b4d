//! Finding the LAN address for the banner.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

/// The address cameras should be pointed at. For a wildcard bind this is the
/// source address of the default route, found by `connect`ing a UDP socket
/// to a documentation address (RFC 5737): that only asks the kernel for a
/// route and sends no packet. Falls back to loopback.
pub(crate) fn lan_ip(bound: IpAddr) -> IpAddr {
    if !bound.is_unspecified() {
        return bound;
    }
    let probe = || -> std::io::Result<IpAddr> {
        let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9))?;
        Ok(socket.local_addr()?.ip())
    };
    match probe() {
        Ok(ip) if !ip.is_unspecified() => ip,
        _ => Ipv4Addr::LOCALHOST.into(),
    }
}

/// `host:port` for a URL, bracketing IPv6.
pub(crate) fn url_authority(ip: IpAddr, port: u16) -> String {
    SocketAddr::new(ip, port).to_string()
}
