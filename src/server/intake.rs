//! Taking bodies in: read against a deadline into buffers that grow with
//! what arrives, and refused bodies left to threads of their own.
//!
//! tiny_http hands a worker the request's head; the body is read through
//! `Request::as_reader`, at the client's pace. Three rules keep a slow or
//! lying client from costing more than it sends:
//!
//! - every read checks the body's deadline first ([`Deadline`]), so a body
//!   that trickles is stopped at the first read after it;
//! - a body is read into a buffer of its declared size only up to
//!   [`PREALLOCATE`]; larger ones grow as their bytes arrive, so declaring
//!   16 MiB and sending ten bytes costs ten bytes;
//! - a refused request whose body may still be on its way is finished by a
//!   thread of its own ([`elsewhere`]): whoever drops a tiny_http request
//!   reads the rest of its body first, for as long as the client takes.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::Instant;

use tiny_http::Request;

use super::guard::Framing;
use super::watch::Deadline;
use crate::body::Pool;
use crate::Body;

/// Bodies up to this size are read into one buffer of the declared size
/// (recycled and initialised: no zeroing); larger ones grow as they arrive.
pub(crate) const PREALLOCATE: u64 = 1 << 20;

/// Stack of a thread that only finishes a refused request (tiny_http's
/// drain buffer is on the heap).
const DRAIN_STACK: usize = 64 * 1024;

/// Reads a whole body, failing with `TimedOut` at `deadline`; `None` when a
/// chunked body grows past `max`.
pub(crate) fn read_body(
    request: &mut Request,
    framing: Framing,
    deadline: Instant,
    pool: &Arc<Pool>,
    max: usize,
) -> io::Result<Option<Body>> {
    let mut reader = Deadline::new(request.as_reader(), deadline);
    let buf = match framing {
        Framing::Length(n) if n <= PREALLOCATE => {
            let mut buf = pool.take(n as usize);
            reader.read_exact(&mut buf)?;
            buf
        }
        Framing::Length(n) => {
            let mut buf = Vec::with_capacity(PREALLOCATE as usize);
            reader.take(n).read_to_end(&mut buf)?;
            if buf.len() as u64 != n {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            buf
        }
        Framing::Chunked => {
            let mut buf = Vec::new();
            reader.take(max as u64 + 1).read_to_end(&mut buf)?;
            if buf.len() > max {
                return Ok(None);
            }
            buf
        }
    };
    Ok(Some(pool.body(buf)))
}

/// Whether all of the request's body is already in memory: none, or at most
/// 1 KiB that tiny_http read together with the head (it does so unless the
/// client asked for `100 Continue`). Dropping such a request never waits.
pub(crate) fn body_in_memory(request: &Request) -> bool {
    let header = |name: &'static str| request.headers().iter().any(|h| h.field.equiv(name));
    match request.body_length() {
        Some(n) => n == 0 || (n <= 1024 && !header("Expect")),
        None => !header("Transfer-Encoding"),
    }
}

/// Runs `finish` (which answers and drops a refused request) here when the
/// request's body is in memory, else on a thread of its own that ends when
/// tiny_http's drain of the body does: that may take as long as the client
/// keeps sending, and must never take a worker with it.
pub(crate) fn elsewhere(request: Request, finish: impl FnOnce(Request) + Send + 'static) {
    if body_in_memory(&request) {
        return finish(request);
    }
    let spawned = std::thread::Builder::new()
        .name("viewtron-drain".into())
        .stack_size(DRAIN_STACK)
        .spawn(move || finish(request));
    if let Err(e) = spawned {
        // The request went down with the closure: drained right here.
        log::debug!("cannot start a drain thread: {e}");
    }
}
