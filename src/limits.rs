//! The fixed limits: bounds the server and parser apply that no builder
//! method changes.
//!
//! They exist because a webhook receiver sits on networks where anything can
//! connect: each one caps what a single hostile request can make this crate
//! (or tiny_http underneath it) allocate or wait for. They are far above what
//! real cameras send, so no camera ever meets them. The limits that do vary
//! between installations (body size, read timeout, workers, channel
//! capacity) are builder settings; see [`ServerBuilder`](crate::ServerBuilder).
//!
//! ```
//! use viewtron::limits;
//!
//! assert_eq!(limits::MAX_HEADERS, 100);
//! assert_eq!(limits::MAX_HEADER_BYTES, 64 * 1024);
//! assert_eq!(limits::MAX_XML_NODES, 200_000);
//! assert_eq!(limits::MAX_DRAIN_BYTES, 64 * 1024 * 1024);
//! ```

/// Header fields accepted in one request: **100**. A request with more is
/// answered `431 Request Header Fields Too Large` and nothing is delivered.
///
/// Real cameras send fewer than ten. tiny_http has already buffered the
/// header block when this is checked, so the bound limits what the request
/// can make the server *do*, not what tiny_http read.
///
/// ```
/// assert_eq!(viewtron::limits::MAX_HEADERS, 100);
/// ```
pub const MAX_HEADERS: usize = 100;

/// Header bytes (names and values together) accepted in one request:
/// **65,536** (64 KiB). A request with more is answered `431` and nothing is
/// delivered.
///
/// ```
/// assert_eq!(viewtron::limits::MAX_HEADER_BYTES, 65_536);
/// ```
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// XML nodes one post may have: **200,000**. A post with more is answered
/// `200` (the camera must never retry it) and reported as a
/// [`ParseError::Xml`](crate::ParseError::Xml) — to `on_unparsed`, never as
/// an event. [`parse`](crate::parse()) applies it too.
///
/// Real posts have a few hundred nodes; the bound caps the memory a hostile
/// document can make the XML parser allocate. Image payloads are not nodes
/// (they are lifted out before XML parsing), so large pictures never count
/// against it. DTDs are refused outright, so entity expansion cannot inflate
/// a document past it either.
///
/// ```
/// use viewtron::{limits, parse, ParseError};
///
/// let many = "<a/>".repeat(limits::MAX_XML_NODES as usize);
/// let err = parse(format!("<config version='1.7'>{many}</config>")).unwrap_err();
/// assert!(matches!(err, ParseError::Xml { .. }));
/// ```
pub const MAX_XML_NODES: u32 = 200_000;

/// Largest declared body the server always lets tiny_http drain when it
/// refuses a request before reading its body: **67,108,864** bytes (64 MiB).
///
/// tiny_http 0.12 drains an unread `Content-Length` body by allocating the
/// whole remainder at once (zeroed, so never touched when the socket is
/// already shut for reading), which aborts the process for a declared size
/// the allocator cannot give. A refused request that declares more than
/// this is dropped only once the same allocation, doubled, has been tried
/// and given back; one declaring more than the machine could map (about
/// RAM plus swap under Linux's default overcommit) is answered (`413`,
/// `401`, `403`, …) and its connection closed, but its request is *parked*:
/// tiny_http's thread for it and two descriptors stay until the process
/// exits, counted in [`TransportStats::parked`](crate::TransportStats::parked).
///
/// ```
/// assert_eq!(viewtron::limits::MAX_DRAIN_BYTES, 64 * 1024 * 1024);
/// ```
pub const MAX_DRAIN_BYTES: u64 = 64 * 1024 * 1024;
