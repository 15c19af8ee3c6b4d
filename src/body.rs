//! The shared, immutable post body that events and images borrow from.

use std::fmt;
use std::sync::{Arc, Mutex};

/// A camera post body, shared between the event parsed from it and its images.
///
/// Cloning a `Body` only bumps a reference count. Converting from an owned
/// `Vec<u8>` or `String` takes the buffer without copying it; converting from a
/// borrowed `&[u8]` or `&str` copies it once.
///
/// ```
/// use viewtron::Body;
///
/// let body = Body::from(b"<config/>".to_vec()); // no copy
/// let again = body.clone();                      // no copy either
/// assert_eq!(again.as_bytes(), b"<config/>");
/// assert_eq!(body.len(), 9);
/// ```
#[derive(Clone, Default)]
pub struct Body(Arc<Buffer>);

/// The bytes of a body, and the pool they go back to when the last event
/// sharing them is dropped (server bodies only).
#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    pool: Option<Arc<Pool>>,
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if let Some(pool) = &self.pool {
            pool.give(std::mem::take(&mut self.bytes));
        }
    }
}

/// Recycled body buffers for the server. A fresh 500 KB buffer per post
/// costs page faults and zeroing in the allocator and the kernel; a recycled
/// one is already mapped and initialised, so a body is read straight into it.
#[derive(Debug)]
pub(crate) struct Pool {
    free: Mutex<Vec<Vec<u8>>>,
    max_buffers: usize,
}

/// Buffers larger than this are freed rather than kept.
const MAX_POOLED: usize = 2 << 20;

#[cfg_attr(not(feature = "server"), allow(dead_code))] // the server's alone
impl Pool {
    pub fn new(max_buffers: usize) -> Pool {
        Pool {
            free: Mutex::new(Vec::new()),
            max_buffers,
        }
    }

    /// A buffer of `len` initialised bytes (contents unspecified).
    pub fn take(&self, len: usize) -> Vec<u8> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        match free.iter().position(|b| b.len() >= len) {
            Some(i) => {
                let mut buf = free.swap_remove(i);
                drop(free);
                buf.truncate(len);
                buf
            }
            None => {
                drop(free);
                vec![0; len]
            }
        }
    }

    fn give(&self, mut buf: Vec<u8>) {
        if buf.capacity() > MAX_POOLED {
            return;
        }
        // Keep the whole capacity initialised so the next body can be read
        // into it without zeroing it first (only the unused tail is written).
        buf.resize(buf.capacity(), 0);
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if free.len() < self.max_buffers {
            free.push(buf);
        }
    }

    /// A body owning `buf`, returned to this pool when no longer shared.
    pub fn body(self: &Arc<Pool>, buf: Vec<u8>) -> Body {
        Body(Arc::new(Buffer {
            bytes: buf,
            pool: Some(self.clone()),
        }))
    }
}

impl Body {
    /// The raw bytes of the post.
    ///
    /// ```
    /// assert_eq!(viewtron::Body::from("abc").as_bytes(), b"abc");
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    /// The body as text, if it is valid UTF-8.
    ///
    /// ```
    /// assert_eq!(viewtron::Body::from("abc").as_str(), Some("abc"));
    /// assert_eq!(viewtron::Body::from(vec![0xff]).as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0.bytes).ok()
    }

    /// The length of the body in bytes.
    ///
    /// ```
    /// assert_eq!(viewtron::Body::from("abc").len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.0.bytes.len()
    }

    /// Whether the body is empty (an empty body is a keepalive).
    ///
    /// ```
    /// assert!(viewtron::Body::from("").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.bytes.is_empty()
    }
}

impl Body {
    fn owned(bytes: Vec<u8>) -> Body {
        Body(Arc::new(Buffer { bytes, pool: None }))
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Body({} bytes)", self.len())
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Body::owned(v)
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::owned(s.into_bytes())
    }
}

impl From<&[u8]> for Body {
    fn from(v: &[u8]) -> Self {
        Body::owned(v.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for Body {
    fn from(v: &[u8; N]) -> Self {
        Body::owned(v.to_vec())
    }
}

impl From<&str> for Body {
    fn from(s: &str) -> Self {
        Body::owned(s.as_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_buffers_come_back_only_when_unshared() {
        let pool = Arc::new(Pool::new(2));
        let mut buf = pool.take(1000);
        buf.copy_from_slice(&[7; 1000]);
        let first = buf.as_ptr();
        let body = pool.body(buf);
        let shared = body.clone();
        drop(body);
        // Still shared: a new request gets a different buffer.
        let other = pool.take(500);
        assert_ne!(other.as_ptr(), first);
        assert_eq!(shared.as_bytes(), &[7; 1000][..]);
        drop(shared);
        // Back in the pool: reused, initialised, cut to the length asked.
        let again = pool.take(800);
        assert_eq!(again.as_ptr(), first);
        assert_eq!(again.len(), 800);
        // Larger than any pooled buffer: a fresh one.
        assert_eq!(pool.take(5000).len(), 5000);
    }

    #[test]
    fn pool_keeps_a_bounded_number_of_buffers() {
        let pool = Arc::new(Pool::new(2));
        let bodies: Vec<Body> = (0..5).map(|_| pool.body(pool.take(10))).collect();
        drop(bodies);
        assert_eq!(pool.free.lock().unwrap().len(), 2);
        drop(pool.body(vec![0; MAX_POOLED + 1]));
        assert_eq!(pool.free.lock().unwrap().len(), 2);
    }
}
