//! Transport security of the main port: a rustls server configuration that speaks TLS 1.3 only
//! and REQUIRES a client certificate chaining to the configured client CA, an accept loop that
//! turns TCP connections into TLS streams for tonic, and the caller identity read from the
//! verified peer certificate.
//!
//! The accept loop is `servicekit::tls` (shared with the integration service), not tonic's
//! `ServerTlsConfig`, which cannot restrict protocol versions.

mod identity;

pub use identity::{Identity, identity_from_cert, identity_from_request};
pub use servicekit::tls::tls_incoming;

use std::{fs, io::BufReader, path::Path, sync::Arc};

use rustls::{
    RootCertStore, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer},
    server::WebPkiClientVerifier,
};

/// Why the TLS material could not be loaded. Never carries key bytes.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A PEM file held nothing usable.
    #[error("{path}: {what}")]
    Pem {
        /// The file.
        path: String,
        /// What was wrong.
        what: &'static str,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client verifier could not be built (e.g. empty CA store).
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// PEM paths of the server identity and of the CA that client certificates must chain to.
#[derive(Debug, Clone)]
pub struct TlsPaths<'a> {
    /// Server certificate chain (PEM).
    pub cert: &'a Path,
    /// Server private key (PEM, PKCS#8, PKCS#1 or SEC1).
    pub key: &'a Path,
    /// Client CA bundle (PEM).
    pub client_ca: &'a Path,
}

/// Builds the server configuration: ring provider, TLS 1.3 only, client auth required, ALPN h2.
pub fn server_config(paths: &TlsPaths<'_>) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = load_certs(paths.cert)?;
    let key = load_key(paths.key)?;
    let mut roots = RootCertStore::empty();
    for ca in load_certs(paths.client_ca)? {
        roots.add(ca)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // `builder` without `allow_unauthenticated()` makes the certificate mandatory: a client
    // without one fails the handshake with a `CertificateRequired` alert.
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = rustls_pemfile::certs(&mut BufReader::new(pem.as_slice()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsError::Pem {
            path: path.display().to_string(),
            what: "malformed PEM certificate",
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.display().to_string(),
            what: "no certificate found",
        });
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    // The PEM text holds the private key: keep it in a zeroizing buffer while we parse.
    let pem = zeroize::Zeroizing::new(read(path)?);
    rustls_pemfile::private_key(&mut BufReader::new(pem.as_slice()))
        .ok()
        .flatten()
        .ok_or_else(|| TlsError::Pem {
            path: path.display().to_string(),
            what: "no private key found",
        })
}
