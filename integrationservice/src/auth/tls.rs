//! Server TLS for the CRM-facing port: always on. Client certificates are requested and, when
//! a client CA is configured, verified against it; they stay optional at the TLS layer so JWT
//! callers can connect, and the interceptor then requires one of the two.

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::config::TlsConfig;

/// Why the TLS material could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("TLS: cannot read `{key}` ({path}): {source}")]
pub(crate) struct TlsError {
    key: &'static str,
    path: String,
    source: std::io::Error,
}

fn read(key: &'static str, path: &std::path::Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError {
        key,
        path: path.display().to_string(),
        source,
    })
}

/// Builds tonic's TLS configuration from the configured files.
pub(crate) fn server_tls(config: &TlsConfig) -> Result<ServerTlsConfig, TlsError> {
    let cert = read("tls.cert_file", &config.cert_file)?;
    // The key bytes are dropped (and the Vec freed) once tonic has parsed them.
    let key = zeroize::Zeroizing::new(read("tls.key_file", &config.key_file)?);
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(cert, key.as_slice()));
    if !config.client_ca_file.as_os_str().is_empty() {
        let ca = read("tls.client_ca_file", &config.client_ca_file)?;
        tls = tls
            .client_ca_root(Certificate::from_pem(ca))
            .client_auth_optional(true);
    }
    Ok(tls)
}
