//! One client connection and the reading of its answers: just enough HTTP/1.1
//! to find where each answer ends (`Content-Length`, chunked, or the end of
//! the connection) and whether the connection stays open.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::args::Config;

/// Time allowed for connecting, for one write and for one read.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed connect, so that a dead server is not hammered.
const CONNECT_BACKOFF: Duration = Duration::from_millis(50);

/// One client connection (reopened as needed) and its reusable read buffer,
/// whose unread bytes are `buf[start..end]`.
pub(crate) struct Link {
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Link {
    /// Not connected yet, with a 64 KiB read buffer.
    pub(crate) fn new() -> Link {
        Link {
            stream: None,
            buf: vec![0; 64 << 10],
            start: 0,
            end: 0,
        }
    }

    /// Sends one request in one write and reads its whole answer. Any failure
    /// drops the connection; the next call reconnects.
    pub(crate) fn exchange(&mut self, cfg: &Config, req: &[u8]) -> io::Result<()> {
        let result = self.try_exchange(cfg, req);
        if result.is_err() || cfg.close {
            self.stream = None;
        }
        result
    }

    fn try_exchange(&mut self, cfg: &Config, req: &[u8]) -> io::Result<()> {
        if self.stream.is_none() {
            let stream =
                connect(&cfg.addrs).inspect_err(|_| std::thread::sleep(CONNECT_BACKOFF))?;
            (self.stream, self.start, self.end) = (Some(stream), 0, 0);
        }
        self.stream.as_mut().expect("connected").write_all(req)?;
        self.answer(cfg)
    }

    /// Takes over `stream`, on which a request was already sent, and reads
    /// its answer.
    pub(crate) fn answer_on(&mut self, stream: TcpStream, cfg: &Config) -> io::Result<()> {
        (self.stream, self.start, self.end) = (Some(stream), 0, 0);
        self.answer(cfg)
    }

    /// Reads the answer to a request already sent.
    fn answer(&mut self, cfg: &Config) -> io::Result<()> {
        let result = self.status();
        if result.is_err() || cfg.close {
            self.stream = None;
        }
        result
    }

    fn status(&mut self) -> io::Result<()> {
        let (status, keep_open) = self.read_response()?;
        if !keep_open {
            self.stream = None;
        }
        match status {
            200 => Ok(()),
            s => Err(io::Error::other(format!("HTTP status {s}"))),
        }
    }

    /// Reads one answer: its status and whether the connection stays open.
    fn read_response(&mut self) -> io::Result<(u16, bool)> {
        loop {
            let head_len = loop {
                match find(&self.buf[self.start..self.end], b"\r\n\r\n") {
                    Some(i) => break i + 4,
                    None => self.fill()?,
                }
            };
            let head = parse_head(&self.buf[self.start..self.start + head_len])?;
            let (status, length, chunked, mut keep_open) = head;
            self.start += head_len;
            match (status, chunked, length) {
                (100..=199, _, _) => continue, // 100 Continue: the answer follows.
                (204 | 304, _, _) => {}
                (_, true, _) => self.skip_chunked()?,
                (_, false, Some(n)) => self.skip(n)?,
                (_, false, None) => {
                    // No framing: the body runs to the end of the connection.
                    while self.fill().is_ok() {
                        self.start = self.end;
                    }
                    keep_open = false;
                }
            }
            return Ok((status, keep_open));
        }
    }

    /// Reads more bytes into the buffer; the end of the stream is an error.
    fn fill(&mut self) -> io::Result<()> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
            if self.end == self.buf.len() {
                return Err(io::Error::other("answer head too large"));
            }
        }
        let stream = self.stream.as_mut().expect("connected");
        match stream.read(&mut self.buf[self.end..])? {
            0 => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            )),
            n => {
                self.end += n;
                Ok(())
            }
        }
    }

    fn skip(&mut self, mut n: u64) -> io::Result<()> {
        loop {
            let have = ((self.end - self.start) as u64).min(n);
            (self.start, n) = (self.start + have as usize, n - have);
            if n == 0 {
                return Ok(());
            }
            self.fill()?;
        }
    }

    /// The next line, without its CRLF, as a range of `buf`.
    fn line(&mut self) -> io::Result<(usize, usize)> {
        loop {
            if let Some(i) = find(&self.buf[self.start..self.end], b"\r\n") {
                let line = (self.start, self.start + i);
                self.start += i + 2;
                return Ok(line);
            }
            self.fill()?;
        }
    }

    fn skip_chunked(&mut self) -> io::Result<()> {
        let bad = || io::Error::other("malformed chunked answer");
        loop {
            let (a, b) = self.line()?;
            let size = self.buf[a..b]
                .split(|&c| c == b';')
                .next()
                .unwrap_or_default();
            let size = std::str::from_utf8(size).map_err(|_| bad())?.trim();
            match u64::from_str_radix(size, 16).map_err(|_| bad())? {
                0 => break,
                n => self.skip(n)?,
            }
            let (a, b) = self.line()?;
            if a != b {
                return Err(bad());
            }
        }
        // Trailers, up to the empty line.
        while self.line().map(|(a, b)| a != b)? {}
        Ok(())
    }
}

fn connect(addrs: &[SocketAddr]) -> io::Result<TcpStream> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(addr, IO_TIMEOUT) {
            Ok(s) => {
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(IO_TIMEOUT))?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                return Ok(s);
            }
            Err(e) => last = Some(io::Error::new(e.kind(), format!("connect {addr}: {e}"))),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no address")))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Status line and headers → (status, Content-Length, chunked, keep open).
fn parse_head(head: &[u8]) -> io::Result<(u16, Option<u64>, bool, bool)> {
    let bad = || io::Error::other("malformed answer head");
    let mut lines = std::str::from_utf8(head).map_err(|_| bad())?.split("\r\n");
    let mut status_line = lines.next().unwrap_or_default().split(' ');
    let version = status_line
        .next()
        .filter(|v| v.starts_with("HTTP/1."))
        .ok_or_else(bad)?;
    let status: u16 = status_line
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let (mut length, mut chunked, mut keep_open) = (None, false, version == "HTTP/1.1");
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or_else(bad)?;
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse().map_err(|_| bad())?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .split(',')
                .any(|v| v.trim().eq_ignore_ascii_case("chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            keep_open = match value {
                v if v.eq_ignore_ascii_case("close") => false,
                v if v.eq_ignore_ascii_case("keep-alive") => true,
                _ => keep_open,
            };
        }
    }
    Ok((status, length, chunked, keep_open))
}
