//! The caller's identity, read from the leaf certificate rustls already verified, by the
//! rules both services share (`servicekit::identity`): exactly one URI SAN (e.g.
//! `spiffe://webinar.local/integrationservice`), else `cn:<CN>` only where
//! `tls.allow_common_name` is on, else refused.

use std::{
    collections::HashMap,
    sync::{OnceLock, RwLock},
};

use rustls::pki_types::CertificateDer;
use servicekit::identity::{CertificateIdentity, CommonNames, IdentityError};

/// A verified caller identity: the shared principal type.
pub use servicekit::identity::Principal as Identity;

/// Extracts the identity of a DER certificate under `common_names`.
pub fn identity_from_cert(
    der: &[u8],
    common_names: CommonNames,
) -> Result<Identity, IdentityError> {
    CertificateIdentity::parse(der).principal(common_names)
}

/// The identity of the peer of a request on the mTLS port. Refused for a request that did
/// not come over a client-authenticated TLS connection (which the listener never lets
/// happen) as for a certificate that names nobody acceptable.
pub fn identity_from_request<T>(
    request: &tonic::Request<T>,
    common_names: CommonNames,
) -> Result<Identity, IdentityError> {
    let certs = request.peer_certs().ok_or(IdentityError::NoUri)?;
    let leaf: &CertificateDer<'_> = certs.first().ok_or(IdentityError::NoUri)?;
    cached_identity(leaf.as_ref()).principal(common_names)
}

/// Most entries the identity cache holds before it starts over.
const CACHE_LIMIT: usize = 4096;

/// Parsing X.509 on every request costs more than the unwrap itself, and a handful of
/// client certificates make all the traffic, so identities are cached by the exact DER of
/// the (already verified) leaf certificate. The map is keyed by a hash of the DER's last bytes
/// (signature bytes, which differ between certificates) rather than of all of it, which cost
/// as much as the rest of the lookup; a hit still requires the whole DER to be equal.
fn cached_identity(der: &[u8]) -> CertificateIdentity {
    type Cache = HashMap<u64, (Box<[u8]>, CertificateIdentity)>;
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
    let identity = CertificateIdentity::parse(der);
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
    fn uri_san_names_the_caller_and_cn_only_where_allowed() -> anyhow::Result<()> {
        let ca = xtask::pki::CertificateAuthority::new("test ca")?;
        let with_uri = ca.client_cert_for("svc", "spiffe://webinar.local/integrationservice")?;
        for rule in [CommonNames::Refuse, CommonNames::Accept] {
            assert_eq!(
                identity_from_cert(&der(&with_uri.cert_pem), rule).map(|i| i.as_str().to_owned()),
                Ok("spiffe://webinar.local/integrationservice".to_owned())
            );
        }
        let cn_only = ca.client_cert(&xtask::pki::ClientIdentity {
            common_name: "batch-job".into(),
            ..Default::default()
        })?;
        assert_eq!(
            identity_from_cert(&der(&cn_only.cert_pem), CommonNames::Refuse),
            Err(IdentityError::NoUri)
        );
        assert_eq!(
            identity_from_cert(&der(&cn_only.cert_pem), CommonNames::Accept)
                .map(|i| i.as_str().to_owned()),
            Ok("cn:batch-job".to_owned())
        );
        assert!(identity_from_cert(b"not a certificate", CommonNames::Accept).is_err());
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
        let name = |der: &[u8]| {
            cached_identity(der)
                .principal(CommonNames::Refuse)
                .map(|i| i.as_str().to_owned())
                .ok()
        };
        let a_name = Some("spiffe://webinar.local/a".to_owned());
        assert_eq!(name(&a), a_name);
        // Same last 32 bytes and length as `a` (so the same slot), different certificate.
        let mut forged = b.clone();
        forged.resize(a.len(), 0);
        let tail = a.len().saturating_sub(32);
        forged[tail..].copy_from_slice(&a[tail..]);
        assert_ne!(name(&forged), a_name);
        assert_eq!(name(&a), a_name);
        assert_eq!(name(&b), Some("spiffe://webinar.local/b".to_owned()));
        Ok(())
    }
}
