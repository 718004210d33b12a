//! Server TLS for the CRM-facing port: always on, TLS 1.3 only unless `tls.min_version`
//! allows 1.2. Client certificates are requested and, when a client CA is configured,
//! verified against it; they stay optional at the TLS layer so JWT callers can connect, and
//! the interceptor then requires one of the two. Connections are accepted by
//! `servicekit::tls::tls_incoming` (tonic's own TLS cannot restrict protocol versions).

use std::{io::BufReader, path::Path, sync::Arc};

use rustls::{
    RootCertStore, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer},
    server::WebPkiClientVerifier,
};

use crate::config::{TlsConfig, TlsVersion};

/// Why the TLS configuration could not be built; names the key, never key bytes.
#[derive(Debug, thiserror::Error)]
#[error("TLS: {0}")]
pub(crate) struct TlsError(String);

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path)
        .map_err(|e| TlsError(format!("cannot read `{key}` ({}): {e}", path.display())))
}

fn certificates(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(key, path)?;
    let certs = rustls_pemfile::certs(&mut BufReader::new(pem.as_slice()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsError(format!("`{key}`: malformed PEM certificate")))?;
    if certs.is_empty() {
        return Err(TlsError(format!("`{key}`: no certificate found")));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    // The PEM text holds the private key: keep it in a zeroizing buffer while it is parsed.
    let pem = zeroize::Zeroizing::new(read("tls.key_file", path)?);
    rustls_pemfile::private_key(&mut BufReader::new(pem.as_slice()))
        .ok()
        .flatten()
        .ok_or_else(|| TlsError("`tls.key_file`: no private key found".into()))
}

/// Builds the rustls configuration of the CRM port from the configured files.
pub(crate) fn server_tls(config: &TlsConfig) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = match config.min_version {
        TlsVersion::V1_3 => &[&rustls::version::TLS13],
        TlsVersion::V1_2 => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| TlsError(e.to_string()))?;
    let builder = if config.client_ca_file.as_os_str().is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        for ca in certificates("tls.client_ca_file", &config.client_ca_file)? {
            roots
                .add(ca)
                .map_err(|e| TlsError(format!("`tls.client_ca_file`: {e}")))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .allow_unauthenticated()
            .build()
            .map_err(|e| TlsError(format!("`tls.client_ca_file`: {e}")))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut tls = builder
        .with_single_cert(
            certificates("tls.cert_file", &config.cert_file)?,
            private_key(&config.key_file)?,
        )
        .map_err(|e| TlsError(format!("`tls.cert_file`/`tls.key_file`: {e}")))?;
    tls.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(tls))
}
