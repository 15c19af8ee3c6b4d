//! Taking bodies in: the cap on requests in progress per address, the
//! body's deadline, and buffers that grow with what arrives.
//!
//! The transport gives the body as a reader with a deadline (every read
//! checks it; a read still waiting at it is cut). Two rules here keep a
//! slow or lying client from costing more than it sends:
//!
//! - a body counts against its address's cap of requests in progress from
//!   the moment it is admitted until its request is answered (beyond the
//!   cap: `429`, the body never read; see `per_address`);
//! - a body is read into a buffer of its declared size only up to
//!   [`PREALLOCATE`]; larger ones grow as their bytes arrive, so declaring
//!   16 MiB and sending ten bytes costs ten bytes.

use std::io::{self, Read};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::per_address::{PerAddress, Ticket};
use crate::body::Pool;
use crate::server::config::Config;
use crate::server::guard::Framing;
use crate::server::refusal::Refusal;
use crate::server::transport::Exchange;
use crate::Body;

/// Bodies up to this size are read into one buffer of the declared size
/// (recycled and initialised: no zeroing); larger ones grow as they arrive.
pub(crate) const PREALLOCATE: u64 = 1 << 20;

/// The body-reading stage.
pub(crate) struct Intake {
    /// Requests in progress per camera address, against `max_per_address`.
    pub per_address: PerAddress,
    body_timeout: Duration,
    max_body: usize,
    /// Recycled body buffers.
    pool: Arc<Pool>,
}

impl Intake {
    pub fn new(config: &Config) -> Intake {
        Intake {
            per_address: PerAddress::new(config.max_per_address),
            body_timeout: config.body_timeout,
            max_body: config.max_body,
            pool: Arc::new(Pool::new(config.workers * 2)),
        }
    }

    /// The body of a `POST` from `ip`, with the ticket that counts it in
    /// progress until dropped. The deadline runs from now (the head is
    /// complete: tiny_http read it before handing the request over). Too
    /// slow: `408`; a vanished peer or broken chunks: `400`; a chunked body
    /// past `max_body`: `413`; over the address's cap: `429`.
    pub fn read(
        &self,
        exchange: &mut Exchange<'_>,
        ip: IpAddr,
        framing: Framing,
    ) -> Result<(Body, Ticket<'_>), Refusal> {
        let ticket = self.per_address.enter(ip).ok_or(Refusal::PerAddressCap)?;
        let deadline = Instant::now() + self.body_timeout;
        let read = self.fill(exchange, framing, deadline);
        match read {
            Ok(Some(body)) => Ok((body, ticket)),
            Ok(None) => Err(Refusal::TooLarge),
            // Past the deadline, or a read waited the whole read timeout.
            Err(e) if Instant::now() >= deadline || e.kind() == io::ErrorKind::WouldBlock => {
                log::debug!("body from {ip} not received in time: {e}");
                Err(Refusal::BodyTimeout)
            }
            Err(e) => {
                log::debug!("incomplete body from {ip}: {e}");
                Err(match e.kind() {
                    // The chunk decoder's verdict (also for a body cut short).
                    io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => Refusal::BadFraming,
                    _ => Refusal::IncompleteBody,
                })
            }
        }
    }

    /// Reads a whole body, failing with `TimedOut` at `deadline`; `None`
    /// when a chunked body grows past `max_body`.
    fn fill(
        &self,
        exchange: &mut Exchange<'_>,
        framing: Framing,
        deadline: Instant,
    ) -> io::Result<Option<Body>> {
        let mut reader = exchange.body(deadline);
        let buf = match framing {
            Framing::Length(n) if n <= PREALLOCATE => {
                let mut buf = self.pool.take(n as usize);
                reader.read_exact(&mut buf)?;
                buf
            }
            Framing::Length(n) => {
                let mut buf = Vec::with_capacity(PREALLOCATE as usize);
                (&mut reader).take(n).read_to_end(&mut buf)?;
                if buf.len() as u64 != n {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                buf
            }
            Framing::Chunked => {
                let mut buf = Vec::new();
                (&mut reader)
                    .take(self.max_body as u64 + 1)
                    .read_to_end(&mut buf)?;
                if buf.len() > self.max_body {
                    return Ok(None);
                }
                buf
            }
        };
        Ok(Some(self.pool.body(buf)))
    }
}
