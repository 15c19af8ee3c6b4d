//! Passwords (the broker's, the cameras' basic auth), which must never
//! show in `Debug` output, logs or error messages.

use std::fmt;

use serde::Deserialize;

/// A password: kept out of `Debug` output, logs and error messages.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub(super) String);

impl Secret {
    /// The password itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether there is no password (`--check` says only whether one is set).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_owned())
    }
}

/// A Home Assistant webhook id as logs and `--check` show it: its first four
/// characters and its length. Anyone who knows the whole id can fire the
/// webhook (Home Assistant's webhook trigger needs no token), so the id is a
/// secret too; the prefix is enough to tell one from another.
pub fn webhook_id_hint(id: &str) -> String {
    let shown: String = id.chars().take(4).collect();
    format!("{shown}… ({} characters)", id.chars().count())
}

/// A webhook URL with its id replaced by [`webhook_id_hint`].
pub fn webhook_url_hint(url: &str) -> String {
    const MARK: &str = "/api/webhook/";
    match url.find(MARK) {
        Some(at) => {
            let (base, id) = url.split_at(at + MARK.len());
            format!("{base}{}", webhook_id_hint(id))
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_id_shows_only_its_start_and_length() {
        assert_eq!(
            webhook_id_hint("viewtron-lpr-7f3a"),
            "view… (17 characters)"
        );
        let url = webhook_url_hint("http://ha:8123/api/webhook/s3cr3t-id-xyz");
        assert_eq!(url, "http://ha:8123/api/webhook/s3cr… (13 characters)");
        assert!(!url.contains("s3cr3t"));
    }
}
