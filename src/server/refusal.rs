//! Why a request is refused, and the answer that says so.

use std::fmt;

use super::transport::Answer;

/// Why the server refused a request: the key of
/// [`Stats::refused_by_reason`](super::Stats::refused_by_reason).
///
/// `Display` (and [`as_str`](Refusal::as_str)) gives the key's text, as the
/// log and the Prometheus `reason` label show it. Refusals of requests with
/// a body, and every [`BadFraming`](Refusal::BadFraming),
/// [`IncompleteBody`](Refusal::IncompleteBody) and
/// [`BodyTimeout`](Refusal::BodyTimeout), close their connection.
///
/// ```
/// use viewtron::Refusal;
///
/// let server = viewtron::Server::builder().port(0).build()?;
/// let stats = server.stats();
/// for reason in Refusal::ALL {
///     println!("{reason} (HTTP {}): {}", reason.status(), stats.refused_by_reason[reason]);
/// }
/// assert_eq!(stats.refused_by_reason[&Refusal::Forbidden], 0);
/// assert_eq!(Refusal::TooLarge.to_string(), "too_large");
/// # server.shutdown();
/// # Ok::<(), viewtron::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// `403`: the source address is outside the allowlist
    /// ([`ServerBuilder::allow`](super::ServerBuilder::allow)).
    Forbidden,
    /// `401`: missing or wrong HTTP Basic credentials.
    Unauthorized,
    /// `405`: a method other than `POST`, `GET` and `HEAD`.
    MethodNotAllowed,
    /// `404`: a path other than those given to
    /// [`ServerBuilder::path`](super::ServerBuilder::path).
    NotFound,
    /// `413`: a body over [`ServerBuilder::max_body`](super::ServerBuilder::max_body).
    TooLarge,
    /// `400`: ambiguous or malformed body framing (request smuggling).
    BadFraming,
    /// `431`: more header fields or header bytes than
    /// [`limits::MAX_HEADERS`](crate::limits::MAX_HEADERS) /
    /// [`limits::MAX_HEADER_BYTES`](crate::limits::MAX_HEADER_BYTES).
    TooManyHeaders,
    /// `400`: the peer vanished in the middle of the body.
    IncompleteBody,
    /// `408`: the body was not complete within
    /// [`ServerBuilder::body_timeout`](super::ServerBuilder::body_timeout)
    /// (or a read of it waited the whole read timeout).
    BodyTimeout,
    /// `429`: the camera's address already had
    /// [`ServerBuilder::max_per_address`](super::ServerBuilder::max_per_address)
    /// requests in progress; the body was not read.
    PerAddressCap,
}

impl Refusal {
    /// Every reason, once each.
    pub const ALL: &'static [Refusal] = &[
        Refusal::Forbidden,
        Refusal::Unauthorized,
        Refusal::MethodNotAllowed,
        Refusal::NotFound,
        Refusal::TooLarge,
        Refusal::BadFraming,
        Refusal::TooManyHeaders,
        Refusal::IncompleteBody,
        Refusal::BodyTimeout,
        Refusal::PerAddressCap,
    ];

    /// The number of reasons: the size of per-reason counter tables.
    pub(crate) const COUNT: usize = Refusal::ALL.len();

    /// This reason's slot in a [`COUNT`](Refusal::COUNT)-sized table. The
    /// match is exhaustive, so a new reason does not compile until it has a
    /// slot; the assertion below the `impl` fails the build unless each
    /// entry of `ALL` sits at its own index. A new reason can therefore never
    /// be counted under another one's key.
    pub(crate) const fn index(self) -> usize {
        match self {
            Refusal::Forbidden => 0,
            Refusal::Unauthorized => 1,
            Refusal::MethodNotAllowed => 2,
            Refusal::NotFound => 3,
            Refusal::TooLarge => 4,
            Refusal::BadFraming => 5,
            Refusal::TooManyHeaders => 6,
            Refusal::IncompleteBody => 7,
            Refusal::BodyTimeout => 8,
            Refusal::PerAddressCap => 9,
        }
    }

    /// The key's text: `forbidden`, `unauthorized`, `method_not_allowed`,
    /// `not_found`, `too_large`, `bad_framing`, `too_many_headers`,
    /// `incomplete_body`, `body_timeout`, `per_address_cap`.
    ///
    /// ```
    /// assert_eq!(viewtron::Refusal::BadFraming.as_str(), "bad_framing");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Forbidden => "forbidden",
            Refusal::Unauthorized => "unauthorized",
            Refusal::MethodNotAllowed => "method_not_allowed",
            Refusal::NotFound => "not_found",
            Refusal::TooLarge => "too_large",
            Refusal::BadFraming => "bad_framing",
            Refusal::TooManyHeaders => "too_many_headers",
            Refusal::IncompleteBody => "incomplete_body",
            Refusal::BodyTimeout => "body_timeout",
            Refusal::PerAddressCap => "per_address_cap",
        }
    }

    /// The HTTP status the client is answered with.
    ///
    /// ```
    /// assert_eq!(viewtron::Refusal::TooManyHeaders.status(), 431);
    /// ```
    pub fn status(self) -> u16 {
        match self {
            Refusal::Forbidden => 403,
            Refusal::Unauthorized => 401,
            Refusal::MethodNotAllowed => 405,
            Refusal::NotFound => 404,
            Refusal::TooLarge => 413,
            Refusal::BadFraming | Refusal::IncompleteBody => 400,
            Refusal::TooManyHeaders => 431,
            Refusal::BodyTimeout => 408,
            Refusal::PerAddressCap => 429,
        }
    }

    fn text(self) -> &'static str {
        match self {
            Refusal::Forbidden => "source address not allowed\n",
            Refusal::Unauthorized => "authentication required\n",
            Refusal::MethodNotAllowed => "method not allowed\n",
            Refusal::NotFound => "no such path\n",
            Refusal::TooLarge => "body too large\n",
            Refusal::BadFraming => "ambiguous or malformed body framing\n",
            Refusal::TooManyHeaders => "too many header fields\n",
            Refusal::IncompleteBody => "incomplete body\n",
            Refusal::BodyTimeout => "body not received in time\n",
            Refusal::PerAddressCap => "too many requests in progress from this address\n",
        }
    }

    /// The answer to this refusal.
    pub(crate) fn answer(self) -> Answer<'static> {
        Answer {
            status: self.status(),
            content_type: "text/plain; charset=utf-8",
            extra: match self {
                Refusal::MethodNotAllowed => Some(("Allow", "GET, HEAD, POST")),
                Refusal::Unauthorized => Some(("WWW-Authenticate", "Basic realm=\"viewtron\"")),
                _ => None,
            },
            body: self.text(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// Each entry of `ALL` at its own index, so `COUNT`-sized tables have exactly
// one slot per reason.
const _: () = {
    let mut i = 0;
    while i < Refusal::COUNT {
        assert!(
            Refusal::ALL[i].index() == i,
            "Refusal::ALL out of step with Refusal::index"
        );
        i += 1;
    }
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_that_need_a_header_carry_it() {
        let unauthorized = Refusal::Unauthorized.answer();
        assert_eq!(unauthorized.status, 401);
        assert_eq!(
            unauthorized.extra,
            Some(("WWW-Authenticate", "Basic realm=\"viewtron\""))
        );
        assert_eq!(
            Refusal::MethodNotAllowed.answer().extra,
            Some(("Allow", "GET, HEAD, POST"))
        );
        for &why in Refusal::ALL {
            let answer = why.answer();
            assert_eq!(answer.status, why.status());
            assert!(
                answer.body.ends_with('\n') && answer.body.len() > 1,
                "{why}"
            );
        }
    }
}
