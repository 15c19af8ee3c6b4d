//! `--burst`: every connection opened and posted on at once, as when cameras
//! come back after an outage, and the slowest first answer measured.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{mpsc, Condvar, Mutex};
use std::time::Instant;

use crate::args::Config;
use crate::link::{Link, IO_TIMEOUT};
use crate::tally::Tally;

/// Burst connections whose first post is answered or failed, and the
/// condition their threads sleep on until every one is: a thousand threads
/// polling a counter would take the cores from the server being measured.
static BURST_ANSWERED: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

/// A burst's opened connection: the stream, its post sent at the instant.
pub(crate) type Opened = (io::Result<TcpStream>, Instant);

/// A burst: with every connection thread waiting, one thread starts every
/// connection without waiting for it (as load generators such as wrk do),
/// then posts on each, back to back, and hands it to its thread to read the
/// answer: the connections arrive as fast as the kernel completes them, as
/// when cameras come back after an outage.
pub(crate) fn burst(cfg: &Config, handoffs: Vec<mpsc::SyncSender<Opened>>) {
    let started: Vec<_> = handoffs
        .iter()
        .map(|_| start_connect(cfg.addrs[0]))
        .collect();
    for (i, (handoff, socket)) in handoffs.into_iter().zip(started).enumerate() {
        let post = &cfg.posts[i % cfg.posts.len()];
        let sent = Instant::now();
        let stream = socket.and_then(|mut s| s.write_all(post).map(|()| s));
        let _ = handoff.send((stream, sent));
    }
}

/// A connection started without waiting for its handshake; the first write
/// waits for it.
fn start_connect(addr: SocketAddr) -> io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    match socket.connect(&addr.into()) {
        Err(e) if e.raw_os_error() != Some(EINPROGRESS) => return Err(e),
        _ => {}
    }
    socket.set_nonblocking(false)?;
    socket.set_nodelay(true)?;
    socket.set_read_timeout(Some(IO_TIMEOUT))?;
    socket.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(socket.into())
}

/// `connect` on a non-blocking socket: "operation now in progress" (Linux).
const EINPROGRESS: i32 = 115;

/// Reads the answer to a connection's first post, sent by [`burst`], then
/// waits until every connection's first post is answered or failed.
pub(crate) fn first_answer(
    cfg: &Config,
    index: usize,
    (opened, sent): Opened,
    link: &mut Link,
    tally: &mut Tally,
) {
    tally.posts += 1;
    let post = &cfg.posts[index % cfg.posts.len()];
    let answer = opened.and_then(|stream| link.answer_on(stream, cfg));
    match answer {
        Ok(()) => {
            let micros = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
            (tally.ok, tally.bytes) = (1, post.len() as u64);
            tally.first.push(micros);
            tally.latency.push(micros);
        }
        Err(e) => tally.fail(cfg, index, "post", &e),
    }
    // Cameras keep their connections open: none closes (which would
    // free a server thread) before every first answer is in.
    let (answered, all_in) = &BURST_ANSWERED;
    let mut answered = answered.lock().unwrap_or_else(|e| e.into_inner());
    *answered += 1;
    if *answered == cfg.connections {
        all_in.notify_all();
    }
    while *answered < cfg.connections {
        answered = all_in.wait(answered).unwrap_or_else(|e| e.into_inner());
    }
    drop(answered);
}
