//! The one error of the configuration: a line naming the key or the
//! variable, ready to print before the bridge exits with status 2.

/// A configuration problem: one line, ready to print.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub(super) fn new(message: impl Into<String>) -> ConfigError {
        ConfigError(message.into())
    }
}
