//! Root key held in process memory (the `file:` and `env:` providers share it).

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use rand::RngCore;
use zeroize::Zeroizing;

use super::{RootKey, RootKeyError};

/// Version byte of the sealed layout.
pub(crate) const SEALED_V1: u8 = 0x01;
/// Nonce length of the sealed layout.
pub(crate) const SEAL_NONCE_LEN: usize = 12;

/// A 32-byte AES-256-GCM root key in memory, zeroized on drop.
pub struct SoftwareRootKey {
    key: Zeroizing<[u8; 32]>,
    origin: String,
}

impl SoftwareRootKey {
    /// Uses `key`; `origin` says where it came from, for logs.
    pub fn new(key: Zeroizing<[u8; 32]>, origin: impl Into<String>) -> Self {
        Self {
            key,
            origin: origin.into(),
        }
    }

    /// Seals with a caller-chosen nonce. Only for known-answer tests.
    #[doc(hidden)]
    pub fn seal_with_nonce(
        &self,
        nonce: &[u8; SEAL_NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Vec<u8> {
        let cipher = Aes256Gcm::new(self.key.as_ref().into());
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("AES-GCM encryption of a bounded input cannot fail");
        let mut out = Vec::with_capacity(1 + SEAL_NONCE_LEN + ciphertext.len());
        out.push(SEALED_V1);
        out.extend_from_slice(nonce);
        out.extend_from_slice(&ciphertext);
        out
    }
}

impl std::fmt::Debug for SoftwareRootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareRootKey")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl RootKey for SoftwareRootKey {
    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, RootKeyError> {
        let mut nonce = [0u8; SEAL_NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        Ok(self.seal_with_nonce(&nonce, aad, plaintext))
    }

    fn unseal(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, RootKeyError> {
        let (nonce, ciphertext) = split_sealed(sealed)?;
        let cipher = Aes256Gcm::new(self.key.as_ref().into());
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| RootKeyError::Unseal)
    }

    fn audit_key(&self) -> Result<servicekit::audit::AuditKey, RootKeyError> {
        Ok(servicekit::audit::AuditKey::derive(
            self.key.as_slice(),
            crate::audit::AUDIT_KEY_LABEL,
        ))
    }

    fn describe(&self) -> String {
        self.origin.clone()
    }
}

/// Splits `0x01 || nonce || ciphertext+tag`, checking lengths.
pub(crate) fn split_sealed(sealed: &[u8]) -> Result<(&[u8], &[u8]), RootKeyError> {
    match sealed.split_first() {
        Some((&SEALED_V1, rest)) if rest.len() > SEAL_NONCE_LEN + 16 => {
            Ok(rest.split_at(SEAL_NONCE_LEN))
        }
        _ => Err(RootKeyError::Unseal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_aad_binding() {
        let root = SoftwareRootKey::new(Zeroizing::new([7u8; 32]), "test");
        let sealed = root.seal(b"k:1", b"kek bytes").expect("seals");
        assert_eq!(
            root.unseal(b"k:1", &sealed).expect("unseals").as_slice(),
            b"kek bytes"
        );
        assert!(matches!(
            root.unseal(b"k:2", &sealed),
            Err(RootKeyError::Unseal)
        ));
        let other = SoftwareRootKey::new(Zeroizing::new([8u8; 32]), "other");
        assert!(matches!(
            other.unseal(b"k:1", &sealed),
            Err(RootKeyError::Unseal)
        ));
        assert!(!format!("{root:?}").contains("7, 7"));
    }
}
