//! AES-256-GCM wrapping and unwrapping of data keys under a KEK.

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use rand::RngCore;
use zeroize::Zeroizing;

use super::{
    CannotUnwrap, NONCE_LEN,
    format::{WrappedKey, encode_header},
};

/// Length of a KEK in bytes (AES-256).
pub const KEK_LEN: usize = 32;

/// A key-encryption key in memory. Zeroized on drop; `Debug` never shows the bytes.
#[derive(Clone)]
pub struct Kek(Zeroizing<[u8; KEK_LEN]>);

impl Kek {
    /// Takes ownership of 32 key bytes.
    pub fn from_bytes(bytes: Zeroizing<[u8; KEK_LEN]>) -> Self {
        Self(bytes)
    }

    /// Copies a 32-byte slice; `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let mut key = Zeroizing::new([0u8; KEK_LEN]);
        if bytes.len() != KEK_LEN {
            return None;
        }
        key.copy_from_slice(bytes);
        Some(Self(key))
    }

    /// A fresh random KEK from the operating system's generator.
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; KEK_LEN]);
        rand::rng().fill_bytes(key.as_mut());
        Self(key)
    }

    /// The key bytes, for sealing under the root key.
    pub fn expose(&self) -> &[u8; KEK_LEN] {
        &self.0
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.0.as_ref().into())
    }
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(<redacted>)")
    }
}

/// Wraps `plaintext` under `kek` (`key_id`, `version`) with a fresh random nonce, binding the
/// header and `associated_data`.
pub fn wrap(
    kek: &Kek,
    key_id: &str,
    version: u32,
    plaintext: &[u8],
    associated_data: &[u8],
) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    wrap_with_nonce(kek, key_id, version, &nonce, plaintext, associated_data)
}

/// Like [`wrap`] with a caller-chosen nonce. Only for known-answer tests: reusing a nonce
/// under one KEK destroys GCM's security.
#[doc(hidden)]
pub fn wrap_with_nonce(
    kek: &Kek,
    key_id: &str,
    version: u32,
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
    associated_data: &[u8],
) -> Vec<u8> {
    let header = encode_header(key_id, version);
    let aad = Zeroizing::new([header.as_slice(), associated_data].concat());
    let ciphertext = kek
        .cipher()
        .encrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        // aes-gcm fails only for inputs above 2^36 bytes; callers bound sizes far below.
        .expect("AES-GCM encryption of a bounded input cannot fail");
    let mut out = header;
    out.reserve(NONCE_LEN + ciphertext.len());
    out.extend_from_slice(nonce);
    out.extend_from_slice(&ciphertext);
    out
}

/// Unwraps a parsed wrapped key with `kek`. The caller has already picked `kek` from the
/// header's key id and version.
pub fn unwrap(
    kek: &Kek,
    wrapped: &WrappedKey<'_>,
    associated_data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CannotUnwrap> {
    let aad = Zeroizing::new([wrapped.header(), associated_data].concat());
    kek.cipher()
        .decrypt(
            Nonce::from_slice(wrapped.nonce()),
            Payload {
                msg: wrapped.ciphertext(),
                aad: &aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| CannotUnwrap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unwrap_bytes(
        kek: &Kek,
        bytes: &[u8],
        aad: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CannotUnwrap> {
        let parsed = WrappedKey::parse(bytes)?;
        unwrap(kek, &parsed, aad)
    }

    #[test]
    fn debug_redacts() {
        assert_eq!(format!("{:?}", Kek::generate()), "Kek(<redacted>)");
    }

    #[test]
    fn wrong_kek_fails() {
        let wrapped = wrap(&Kek::generate(), "k", 1, b"secret", b"ctx");
        assert_eq!(
            unwrap_bytes(&Kek::generate(), &wrapped, b"ctx"),
            Err(CannotUnwrap)
        );
    }

    proptest! {
        #[test]
        fn round_trip(dek in proptest::collection::vec(any::<u8>(), 1..128),
                      aad in proptest::collection::vec(any::<u8>(), 0..64),
                      version in 1u32..) {
            let kek = Kek::generate();
            let wrapped = wrap(&kek, "on24-credentials", version, &dek, &aad);
            let header = WrappedKey::parse_header(&wrapped).expect("header");
            prop_assert_eq!(header.version, version);
            prop_assert_eq!(header.key_id.as_str(), "on24-credentials");
            let plain = unwrap_bytes(&kek, &wrapped, &aad).expect("unwraps");
            prop_assert_eq!(plain.as_slice(), dek.as_slice());
        }

        #[test]
        fn any_bit_flip_fails(dek in proptest::collection::vec(any::<u8>(), 1..64),
                              aad in proptest::collection::vec(any::<u8>(), 0..32),
                              position in any::<proptest::sample::Index>(),
                              bit in 0u8..8) {
            let kek = Kek::generate();
            let mut wrapped = wrap(&kek, "k-1", 3, &dek, &aad);
            let i = position.index(wrapped.len());
            wrapped[i] ^= 1 << bit;
            prop_assert_eq!(unwrap_bytes(&kek, &wrapped, &aad), Err(CannotUnwrap));
        }

        #[test]
        fn other_associated_data_fails(dek in proptest::collection::vec(any::<u8>(), 1..64),
                                       aad in proptest::collection::vec(any::<u8>(), 0..32),
                                       other in proptest::collection::vec(any::<u8>(), 0..32)) {
            prop_assume!(aad != other);
            let kek = Kek::generate();
            let wrapped = wrap(&kek, "k", 1, &dek, &aad);
            prop_assert_eq!(unwrap_bytes(&kek, &wrapped, &other), Err(CannotUnwrap));
        }

        #[test]
        fn truncation_and_extension_fail(dek in proptest::collection::vec(any::<u8>(), 1..64),
                                         cut in any::<proptest::sample::Index>()) {
            let kek = Kek::generate();
            let wrapped = wrap(&kek, "k", 1, &dek, b"");
            let cut = cut.index(wrapped.len());
            prop_assert_eq!(unwrap_bytes(&kek, &wrapped[..cut], b""), Err(CannotUnwrap));
            let mut longer = wrapped.clone();
            longer.push(0);
            prop_assert_eq!(unwrap_bytes(&kek, &longer, b""), Err(CannotUnwrap));
        }
    }
}
