//! TLS to the broker (`mqtt.tls`): a broker on another machine or site
//! should not see passwords and plates in clear. The vendor's bridge has
//! no TLS; this is ours.
//!
//! rustls with the *ring* provider, which the webhook client (`ureq`)
//! already brings, so TLS adds no C code and no second crypto library to
//! the build. The broker is verified against the CA file the user names
//! (a private CA is the usual case for a LAN broker); a client certificate
//! and key are optional, for brokers that require them. Everything is read
//! and checked when the configuration is loaded, so `--check` and the
//! start fail with one clear line instead of a broker that never connects.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

/// The files `mqtt.tls` names, relative paths already resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM: the CA certificate(s) the broker's certificate must chain to.
    pub ca_file: PathBuf,
    /// PEM: a client certificate (chain) and its private key, when the
    /// broker asks for one.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// Why the TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read or holds no PEM block of the kind needed.
    #[error("{key}: {path}: {why}")]
    File {
        key: &'static str,
        path: PathBuf,
        why: String,
    },
    /// rustls refused what the files hold (for instance a key that does
    /// not match the certificate).
    #[error("{key}: {0}", key = .1)]
    Rejected(rustls::Error, &'static str),
}

fn file_error(key: &'static str, path: &Path, why: impl ToString) -> TlsError {
    TlsError::File {
        key,
        path: path.to_owned(),
        why: why.to_string(),
    }
}

/// The rustls client configuration for these files.
pub fn client_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    let cas = certificates("mqtt.tls.ca_file", &files.ca_file)?;
    let (added, _ignored) = roots.add_parsable_certificates(cas);
    if added == 0 {
        return Err(file_error(
            "mqtt.tls.ca_file",
            &files.ca_file,
            "no usable CA certificate in it",
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rejected(e, "mqtt.tls"))?
        .with_root_certificates(roots);
    let config = match &files.client {
        None => builder.with_no_client_auth(),
        Some((cert_file, key_file)) => {
            let chain = certificates("mqtt.tls.cert_file", cert_file)?;
            let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
                file_error("mqtt.tls.key_file", key_file, pem_why(e, "private key"))
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsError::Rejected(e, "mqtt.tls.key_file"))?
        }
    };
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file; at least one.
fn certificates(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(key, path, pem_why(e, "certificate")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(key, path, pem_why(e, "certificate")))?;
    if certs.is_empty() {
        return Err(file_error(key, path, "no PEM certificate in it"));
    }
    Ok(certs)
}

fn pem_why(e: rustls::pki_types::pem::Error, what: &str) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(io) => io.to_string(),
        Error::NoItemsFound => format!("no PEM {what} in it"),
        other => format!("not a PEM {what}: {other:?}"),
    }
}
