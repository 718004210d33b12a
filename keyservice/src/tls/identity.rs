//! The caller's identity, read from the leaf certificate rustls already verified: the first
//! URI SAN (e.g. `spiffe://webinar.local/integrationservice`), else the subject CN.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, OnceLock, RwLock},
};

use rustls::pki_types::CertificateDer;
use x509_parser::{extensions::GeneralName, prelude::FromDer};

/// A verified caller identity (a URI such as a SPIFFE id, or a certificate CN).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity(Arc<str>);

impl Identity {
    /// Wraps a string as an identity (used by tests and policy evaluation).
    pub fn new(value: impl Into<String>) -> Self {
        Self(Arc::from(value.into()))
    }

    /// The identity as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Extracts the identity of a DER certificate: first URI SAN, else the first CN.
/// Returns `None` for an unparsable certificate or one that names nobody.
pub fn identity_from_cert(der: &[u8]) -> Option<Identity> {
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let GeneralName::URI(uri) = name
                && !uri.is_empty()
            {
                return Some(Identity::new(*uri));
            }
        }
    }
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?;
    (!cn.is_empty()).then(|| Identity::new(cn))
}

/// The identity of the peer of a request on the mTLS port, or `None` when the request did not
/// come over a client-authenticated TLS connection (which the listener never lets happen).
pub fn identity_from_request<T>(request: &tonic::Request<T>) -> Option<Identity> {
    let certs = request.peer_certs()?;
    let leaf: &CertificateDer<'_> = certs.first()?;
    cached_identity(leaf.as_ref())
}

/// Most entries the identity cache holds before it starts over.
const CACHE_LIMIT: usize = 4096;

/// Parsing X.509 on every request costs more than the unwrap itself, and a handful of
/// client certificates make all the traffic, so identities are cached by the exact DER of
/// the (already verified) leaf certificate. The map is keyed by a hash of the DER's last bytes
/// (signature bytes, which differ between certificates) rather than of all of it, which cost
/// as much as the rest of the lookup; a hit still requires the whole DER to be equal.
fn cached_identity(der: &[u8]) -> Option<Identity> {
    type Cache = HashMap<u64, (Box<[u8]>, Option<Identity>)>;
    static CACHE: OnceLock<RwLock<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = tail_hash(der);
    if let Some(hit) = cache.read().ok().and_then(|map| {
        map.get(&key)
            .filter(|(cached, _)| **cached == *der)
            .map(|(_, identity)| identity.clone())
    }) {
        return hit;
    }
    let identity = identity_from_cert(der);
    if let Ok(mut map) = cache.write() {
        if map.len() >= CACHE_LIMIT {
            map.clear();
        }
        // A different certificate with the same tail just takes the slot over.
        map.insert(key, (Box::from(der), identity.clone()));
    }
    identity
}

fn tail_hash(der: &[u8]) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static SEED: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    let mut hasher = SEED.get_or_init(Default::default).build_hasher();
    hasher.write(&der[der.len().saturating_sub(32)..]);
    hasher.write_usize(der.len());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(pem: &str) -> Vec<u8> {
        let mut reader = std::io::BufReader::new(pem.as_bytes());
        rustls_pemfile::certs(&mut reader)
            .next()
            .and_then(|c| c.ok())
            .map(|c| c.to_vec())
            .unwrap_or_default()
    }

    #[test]
    fn uri_san_wins_over_cn_and_cn_is_the_fallback() -> anyhow::Result<()> {
        let ca = xtask::pki::CertificateAuthority::new("test ca")?;
        let with_uri = ca.client_cert_for("svc", "spiffe://webinar.local/integrationservice")?;
        assert_eq!(
            identity_from_cert(&der(&with_uri.cert_pem)),
            Some(Identity::new("spiffe://webinar.local/integrationservice"))
        );
        let cn_only = ca.client_cert(&xtask::pki::ClientIdentity {
            common_name: "batch-job".into(),
            ..Default::default()
        })?;
        assert_eq!(
            identity_from_cert(&der(&cn_only.cert_pem)),
            Some(Identity::new("batch-job"))
        );
        assert_eq!(identity_from_cert(b"not a certificate"), None);
        Ok(())
    }

    #[test]
    fn cache_answers_by_the_whole_certificate_not_its_tail() -> anyhow::Result<()> {
        let ca = xtask::pki::CertificateAuthority::new("test ca")?;
        let a = der(&ca
            .client_cert_for("a", "spiffe://webinar.local/a")?
            .cert_pem);
        let b = der(&ca
            .client_cert_for("b", "spiffe://webinar.local/b")?
            .cert_pem);
        assert_eq!(
            cached_identity(&a),
            Some(Identity::new("spiffe://webinar.local/a"))
        );
        // Same last 32 bytes and length as `a` (so the same slot), different certificate.
        let mut forged = b.clone();
        forged.resize(a.len(), 0);
        let tail = a.len().saturating_sub(32);
        forged[tail..].copy_from_slice(&a[tail..]);
        assert_ne!(
            cached_identity(&forged),
            Some(Identity::new("spiffe://webinar.local/a"))
        );
        assert_eq!(
            cached_identity(&a),
            Some(Identity::new("spiffe://webinar.local/a"))
        );
        assert_eq!(
            cached_identity(&b),
            Some(Identity::new("spiffe://webinar.local/b"))
        );
        Ok(())
    }
}
