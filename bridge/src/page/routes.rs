//! The page's addresses on the bridge's server, as library pages:
//!
//! - `/`: the page itself (HTML, CSS and JavaScript in one document);
//! - `/api/cameras`: its data, polled every 2 s;
//! - `/image/<slot>/overview` and `/image/<slot>/target`, slot `0..20`:
//!   one picture as JSON (`seq`, `type`, `base64`).
//!
//! The library matches a page's path exactly and lets it answer text only,
//! so every picture address is registered up front (40 of them), and a
//! picture travels as base64 in JSON that names its event: the page checks
//! that the slot still holds the event it asked for before showing it.
//!
//! And `on_unparsed`, to count per address the posts the library could not
//! read as events (a callback has one owner: the bridge sets no other).

use std::sync::Arc;
use std::time::SystemTime;

use viewtron::{Page, ServerBuilder};

use super::limits::{MAX_EVENTS, POLL_MS};
use super::store::{Board, Kind};
use super::view;

/// The page: one self-contained document, no external assets.
const INDEX: &str = include_str!("index.html");

const JSON: &str = "application/json";

/// `builder` with the page's addresses when `board` is `Some`; unchanged
/// otherwise (the page is off unless configured).
pub fn serve(builder: ServerBuilder, board: Option<Arc<Board>>) -> ServerBuilder {
    let Some(board) = board else {
        return builder;
    };
    let mut builder = builder
        .page("/", |_| Page::new(200, "text/html; charset=utf-8", INDEX))
        .page("/api/cameras", {
            let board = board.clone();
            move |stats| {
                let snap = board.snapshot();
                let body = view::cameras(&board.settings, POLL_MS, stats, &snap, SystemTime::now());
                Page::new(200, JSON, body)
            }
        })
        .on_unparsed({
            let board = board.clone();
            move |_, ip, reason| board.unparsed(ip, reason)
        });
    for slot in 0..MAX_EVENTS {
        for kind in Kind::ALL {
            let board = board.clone();
            builder = builder.page(
                format!("/image/{slot}/{}", kind.as_str()),
                move |_| match board.in_slot(slot).and_then(|e| view::picture(&e, kind)) {
                    Some(body) => Page::new(200, JSON, body),
                    None => Page::new(404, JSON, r#"{"error":"no such picture now"}"#),
                },
            );
        }
    }
    builder
}

#[cfg(test)]
mod tests {
    use super::INDEX;

    /// Under Home Assistant's ingress the page lives at
    /// `/api/hassio_ingress/<token>/`: an address starting with `/` would
    /// leave that prefix. And nothing may come from elsewhere.
    #[test]
    fn the_page_uses_relative_addresses_only() {
        for bad in [
            "src=\"/",
            "href=\"/",
            "fetch(\"/",
            "fetch('/",
            "fetch(`/",
            "url(/",
            "http://",
            "https://",
            "action=\"/",
        ] {
            assert!(!INDEX.contains(bad), "index.html contains `{bad}`");
        }
        assert!(INDEX.contains("fetch(\"api/cameras\""));
    }

    #[test]
    fn every_image_the_page_makes_gets_alt_text() {
        assert!(INDEX.contains(".alt ="));
        assert!(
            !INDEX.contains("innerHTML"),
            "text from cameras goes in as text"
        );
    }
}
