//! Binding the listening socket, and finding the LAN address for the banner.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::BuildError;

/// Binds a listener with `TCP_NODELAY` set (accepted sockets inherit it on
/// Linux, so answers never wait for Nagle + delayed ACK), address reuse for
/// quick restarts, and dual-stack when bound to `::`.
///
/// The read timeout is set on the listener too: accepted sockets inherit it,
/// which is the only way to give tiny_http's connections a timeout. It also
/// makes `accept()` time out, which the supervisor handles.
pub(crate) fn listen(ip: IpAddr, port: u16, timeout: Duration) -> Result<TcpListener, BuildError> {
    match bind(SocketAddr::new(ip, port), timeout) {
        // `::` on a host without IPv6: serve IPv4 on every interface instead.
        Err(_) if ip.is_unspecified() && ip.is_ipv6() => {
            bind(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port), timeout)
        }
        other => other,
    }
    .map_err(|(addr, source)| BuildError::Bind { addr, source })
}

/// The accept queue asked for. A thousand cameras coming back at once (after
/// a restart or a network blip) complete their handshakes faster than
/// tiny_http's accept thread, which starts a thread per connection before it
/// accepts the next, takes them; a connection that finds the queue full is
/// dropped by the kernel and waits for the client's SYN/ACK retransmission
/// (one second, then more). Linux silently caps the value at
/// `net.core.somaxconn` (4096 by default since 5.4; 128 before), so on an
/// older or tuned-down host the effective queue is that sysctl.
const BACKLOG: i32 = 4096;

fn bind(addr: SocketAddr, timeout: Duration) -> Result<TcpListener, (SocketAddr, std::io::Error)> {
    let socket = (|| {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        if addr.is_ipv6() && addr.ip().is_unspecified() {
            socket.set_only_v6(false)?;
        }
        socket.set_reuse_address(true)?;
        socket.set_nodelay(true)?;
        socket.set_read_timeout(Some(timeout))?;
        socket.set_write_timeout(Some(timeout.min(Duration::from_secs(30))))?;
        socket.bind(&addr.into())?;
        socket.listen(BACKLOG)?;
        Ok(socket)
    })()
    .map_err(|e| (addr, e))?;
    Ok(socket.into())
}

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
