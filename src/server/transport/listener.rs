//! Binding the listening socket the way tiny_http's connections need it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::server::config::BuildError;

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
