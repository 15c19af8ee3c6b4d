//! Pages: `GET` paths answered from the server's counters, so a program
//! built on the server can offer a health check and Prometheus metrics on the
//! cameras' port without running a second HTTP server.
//!
//! Why here and not in the program: the counters live inside the server,
//! and a page must be answered by the same workers that answer the cameras
//! (a second listener would be a second thing to secure, bind and monitor).
//! A page is a closure given a fresh [`Stats`] snapshot; it never sees a
//! request body, and a panic in it is caught and answered `500`. Pages sit
//! behind the same source allowlist as posts.
//!
//! [`Stats::prometheus`] renders the counters in the Prometheus text format;
//! a program appends its own metrics to that text.

use std::fmt::{self, Write as _};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use super::stats::Stats;
use crate::Category;

/// What a page answers: a status code, a content type and a text body.
///
/// ```
/// use viewtron::Page;
///
/// let page = Page::text("ok");
/// assert_eq!((page.status(), page.body()), (200, "ok"));
/// let down = Page::text("broker down").with_status(503);
/// assert_eq!(down.status(), 503);
/// assert_eq!(down.content_type(), "text/plain; charset=utf-8");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    status: u16,
    content_type: String,
    body: String,
}

impl Page {
    /// A page with this status, content type and body.
    ///
    /// ```
    /// let page = viewtron::Page::new(200, "application/json", r#"{"ok":true}"#);
    /// assert_eq!(page.content_type(), "application/json");
    /// ```
    pub fn new(status: u16, content_type: impl Into<String>, body: impl Into<String>) -> Page {
        Page {
            status,
            content_type: content_type.into(),
            body: body.into(),
        }
    }

    /// A `200` plain-text page.
    ///
    /// ```
    /// assert_eq!(viewtron::Page::text("up").status(), 200);
    /// ```
    pub fn text(body: impl Into<String>) -> Page {
        Page::new(200, "text/plain; charset=utf-8", body)
    }

    /// A `200` page in the Prometheus text exposition format (version 0.0.4).
    ///
    /// ```
    /// let page = viewtron::Page::metrics(viewtron::Stats::default().prometheus());
    /// assert!(page.content_type().starts_with("text/plain; version=0.0.4"));
    /// assert!(page.body().contains("viewtron_requests_total 0"));
    /// ```
    pub fn metrics(body: impl Into<String>) -> Page {
        Page::new(200, "text/plain; version=0.0.4; charset=utf-8", body)
    }

    /// The same page with another status code (`503` for a failed health
    /// check, for instance). Codes outside 100–599 are answered as `500`.
    ///
    /// ```
    /// assert_eq!(viewtron::Page::text("no").with_status(503).status(), 503);
    /// ```
    pub fn with_status(mut self, status: u16) -> Page {
        self.status = status;
        self
    }

    /// The status code.
    ///
    /// ```
    /// assert_eq!(viewtron::Page::text("").status(), 200);
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The content type.
    ///
    /// ```
    /// assert_eq!(viewtron::Page::text("").content_type(), "text/plain; charset=utf-8");
    /// ```
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The body.
    ///
    /// ```
    /// assert_eq!(viewtron::Page::text("hi").body(), "hi");
    /// ```
    pub fn body(&self) -> &str {
        &self.body
    }
}

type PageFn = Arc<dyn Fn(&Stats) -> Page + Send + Sync>;

/// The pages a server answers, by exact path.
#[derive(Clone, Default)]
pub(crate) struct Pages(Vec<(String, PageFn)>);

impl Pages {
    pub fn add(&mut self, path: String, f: PageFn) {
        self.0.retain(|(p, _)| *p != path);
        self.0.push((path, f));
    }

    /// The page for `path`, made from `stats()`; `None` when `path` has none.
    pub fn answer(&self, path: &str, stats: impl FnOnce() -> Stats) -> Option<Page> {
        let (_, f) = self.0.iter().find(|(p, _)| p == path)?;
        let stats = stats();
        Some(match catch_unwind(AssertUnwindSafe(|| f(&stats))) {
            Ok(page) if (100..=599).contains(&page.status) => page,
            Ok(page) => page.with_status(500),
            Err(_) => {
                log::error!("the page callback for {path} panicked");
                Page::text("internal error").with_status(500)
            }
        })
    }
}

impl fmt::Debug for Pages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(p, _)| p))
            .finish()
    }
}

/// Escapes a Prometheus label value.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Stats {
    /// The counters in the Prometheus text exposition format, every metric
    /// named `viewtron_…` with its `HELP` and `TYPE` lines. Serve it with
    /// [`ServerBuilder::page`](crate::ServerBuilder::page) and
    /// [`Page::metrics`]; append a program's own metrics to the text.
    ///
    /// ```
    /// let server = viewtron::Server::builder().port(0).build()?;
    /// let text = server.stats().prometheus();
    /// assert!(text.contains("# TYPE viewtron_events_total counter"));
    /// assert!(text.contains("viewtron_events_total{category=\"lpr\"} 0"));
    /// assert!(text.contains("viewtron_refused_total{reason=\"forbidden\"} 0"));
    /// assert!(text.ends_with('\n'));
    /// # server.shutdown();
    /// # Ok::<(), viewtron::BuildError>(())
    /// ```
    pub fn prometheus(&self) -> String {
        let mut out = String::with_capacity(2048 + 160 * self.cameras.len());
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
            let _ = writeln!(out, "# HELP viewtron_{name} {help}");
            let _ = writeln!(out, "# TYPE viewtron_{name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "viewtron_{name}{labels} {value}");
            }
        };
        let one = |v: u64| [(String::new(), v)];
        metric(
            "requests_total",
            "counter",
            "HTTP requests answered.",
            &one(self.requests),
        );
        let by_category: Vec<_> = Category::ALL
            .iter()
            .map(|c| {
                let n = self.events_by_category.get(c).copied().unwrap_or(0);
                (format!("{{category=\"{c}\"}}"), n)
            })
            .collect();
        metric(
            "events_total",
            "counter",
            "Events delivered, by category.",
            &by_category,
        );
        metric(
            "keepalives_total",
            "counter",
            "Keepalive posts.",
            &one(self.keepalives),
        );
        metric(
            "alarm_statuses_total",
            "counter",
            "Alarm status posts.",
            &one(self.alarm_statuses),
        );
        metric(
            "unrecognized_total",
            "counter",
            "Well-formed posts that are not events.",
            &one(self.unrecognized),
        );
        metric(
            "parse_errors_total",
            "counter",
            "Bodies that are not UTF-8 or not XML.",
            &one(self.parse_errors),
        );
        metric(
            "callback_panics_total",
            "counter",
            "Callbacks that panicked (caught).",
            &one(self.callback_panics),
        );
        metric(
            "dropped_events_total",
            "counter",
            "Events dropped by the overflow policy.",
            &one(self.dropped),
        );
        metric(
            "received_bytes_total",
            "counter",
            "Body bytes received.",
            &one(self.bytes_received),
        );
        let by_reason: Vec<_> = self
            .refused_by_reason
            .iter()
            .map(|(r, n)| (format!("{{reason=\"{r}\"}}"), *n))
            .collect();
        metric(
            "refused_total",
            "counter",
            "Requests refused, by reason.",
            &by_reason,
        );
        metric(
            "parked_connections_total",
            "counter",
            "Connections parked (see Limits and guarantees).",
            &one(self.transport.parked),
        );
        metric(
            "accept_restarts_total",
            "counter",
            "Accept loop restarts.",
            &one(self.transport.accept_restarts),
        );
        metric(
            "requests_in_progress",
            "gauge",
            "Requests taken by a worker and not yet answered.",
            &one(self.in_progress),
        );
        let protections: Vec<_> = self
            .transport
            .protections
            .list()
            .iter()
            .map(|(name, on)| (format!("{{protection=\"{name}\"}}"), u64::from(*on)))
            .collect();
        metric(
            "protection_active",
            "gauge",
            "Protections against hostile clients: 1 active, 0 not (see docs/tiny_http.md).",
            &protections,
        );
        metric(
            "cameras",
            "gauge",
            "Cameras and NVRs heard from.",
            &one(self.cameras.len() as u64),
        );
        let last_seen: Vec<_> = self
            .cameras
            .iter()
            .map(|c| {
                let name = c.device_name.as_deref().unwrap_or("");
                let at = c
                    .last_seen
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                (format!("{{ip=\"{}\",name=\"{}\"}}", c.ip, label(name)), at)
            })
            .collect();
        metric(
            "camera_last_seen_seconds",
            "gauge",
            "When each camera last posted (Unix time).",
            &last_seen,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn a_panicking_page_is_a_500() {
        let mut pages = Pages::default();
        pages.add("/boom".into(), Arc::new(|_: &Stats| panic!("boom")));
        let page = pages.answer("/boom", Stats::default).unwrap();
        assert_eq!(page.status(), 500);
        assert!(pages.answer("/other", Stats::default).is_none());
    }

    #[test]
    fn the_last_page_added_for_a_path_wins() {
        let mut pages = Pages::default();
        pages.add("/p".into(), Arc::new(|_: &Stats| Page::text("one")));
        pages.add("/p".into(), Arc::new(|_: &Stats| Page::text("two")));
        assert_eq!(pages.answer("/p", Stats::default).unwrap().body(), "two");
    }
}
