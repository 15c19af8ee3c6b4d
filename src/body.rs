//! The shared, immutable post body that events and images borrow from.

use std::fmt;
use std::sync::Arc;

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
pub struct Body(Arc<Vec<u8>>);

impl Body {
    /// The raw bytes of the post.
    ///
    /// ```
    /// assert_eq!(viewtron::Body::from("abc").as_bytes(), b"abc");
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The body as text, if it is valid UTF-8.
    ///
    /// ```
    /// assert_eq!(viewtron::Body::from("abc").as_str(), Some("abc"));
    /// assert_eq!(viewtron::Body::from(vec![0xff]).as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The length of the body in bytes.
    ///
    /// ```
    /// assert_eq!(viewtron::Body::from("abc").len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the body is empty (an empty body is a keepalive).
    ///
    /// ```
    /// assert!(viewtron::Body::from("").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Body({} bytes)", self.0.len())
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Body(Arc::new(v))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body(Arc::new(s.into_bytes()))
    }
}

impl From<&[u8]> for Body {
    fn from(v: &[u8]) -> Self {
        Body(Arc::new(v.to_vec()))
    }
}

impl<const N: usize> From<&[u8; N]> for Body {
    fn from(v: &[u8; N]) -> Self {
        Body(Arc::new(v.to_vec()))
    }
}

impl From<&str> for Body {
    fn from(s: &str) -> Self {
        Body(Arc::new(s.as_bytes().to_vec()))
    }
}
