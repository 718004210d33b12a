//! Opaque page tokens and change-feed cursors:
//! `base64url(version || nonce || AES-256-GCM(cursor, aad = scope))`.
//!
//! Sealing binds the store's cursor to the scope of the request (method, parent, filter), so a
//! token cannot be forged, edited, or replayed against another tenant, webinar or filter; such
//! a token is INVALID_ARGUMENT, never a silent restart from the first page. It also hides the
//! cursor: the attendee list pages by email, and a token a client may log must not reveal one.
//! The nonce is synthetic (HMAC of scope and cursor, as in SIV), so one position always gives
//! the same token: clients may compare cursors, and no random nonce can repeat. The key is
//! shared by all replicas through `api.page_token_key_file`; the AES key is derived from it.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

const VERSION: u8 = 2;
/// Version 1 tokens were only signed (`version || HMAC-SHA256-128 || cursor`). They are still
/// opened, so change-feed cursors a CRM stored before sealing keep resuming its feed.
const SIGNED_VERSION: u8 = 1;
const SIGNED_MAC_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const MAX_TOKEN_LEN: usize = 1024;

/// Seals and opens page tokens.
#[derive(Clone)]
pub struct PageTokens {
    /// Derives the synthetic nonces.
    nonce_key: Zeroizing<Vec<u8>>,
    /// Encrypts the cursors.
    cipher_key: Zeroizing<Vec<u8>>,
    /// Checks version 1 tokens (the master key itself, as they were signed with it).
    signed_key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageTokens(..)")
    }
}

fn hmac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; the error case cannot happen.
    <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

/// The scope as associated data, length-prefixed so scope and cursor bytes cannot be shifted.
fn aad(scope: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + scope.len());
    out.extend_from_slice(&(scope.len() as u64).to_be_bytes());
    out.extend_from_slice(scope.as_bytes());
    out
}

impl PageTokens {
    /// Tokens under `master` (two independent keys derived from it).
    pub(crate) fn with_master(master: &[u8]) -> Self {
        let derive = |label: &[u8]| {
            let mut mac = hmac(master);
            mac.update(label);
            Zeroizing::new(mac.finalize().into_bytes().to_vec())
        };
        Self {
            nonce_key: derive(b"webinar.v1 page token nonce"),
            cipher_key: derive(b"webinar.v1 page token cipher"),
            signed_key: Zeroizing::new(master.to_vec()),
        }
    }

    /// A sealer with a random key (tokens do not survive a restart).
    pub(crate) fn random() -> Self {
        let mut key = Zeroizing::new(vec![0u8; 32]);
        rand::fill(key.as_mut_slice());
        Self::with_master(&key)
    }

    /// A sealer with the key in `path` (at least 32 bytes).
    pub(crate) fn from_file(path: &std::path::Path) -> Result<Self, String> {
        let key = Zeroizing::new(
            std::fs::read(path)
                .map_err(|e| format!("api.page_token_key_file ({}): {e}", path.display()))?,
        );
        if key.len() < 32 {
            return Err("api.page_token_key_file must hold at least 32 bytes".into());
        }
        Ok(Self::with_master(&key))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.cipher_key))
    }

    /// Seals a store cursor for `scope`.
    pub fn encode(&self, scope: &str, cursor: &str) -> String {
        let aad = aad(scope);
        let mut mac = hmac(&self.nonce_key);
        mac.update(&aad);
        mac.update(cursor.as_bytes());
        let digest = mac.finalize().into_bytes();
        let nonce = &digest[..NONCE_LEN];
        let sealed = self
            .cipher()
            .encrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: cursor.as_bytes(),
                    aad: &aad,
                },
            )
            // AES-GCM fails only for messages beyond 64 GiB; cursors are a few hundred bytes.
            .unwrap_or_else(|_| unreachable!("cursor too long to seal"));
        let mut raw = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        raw.push(VERSION);
        raw.extend_from_slice(nonce);
        raw.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Opens a token for `scope` and returns the store cursor inside.
    pub fn decode(&self, scope: &str, token: &str) -> Result<String, String> {
        const INVALID: &str = "is not a token returned by this API for the same request";
        if token.len() > MAX_TOKEN_LEN {
            return Err(INVALID.into());
        }
        let raw = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| INVALID.to_string())?;
        if raw.first() == Some(&SIGNED_VERSION) && raw.len() > SIGNED_MAC_LEN {
            let (tag, cursor) = raw[1..].split_at(SIGNED_MAC_LEN);
            let mut mac = hmac(&self.signed_key);
            mac.update(&aad(scope));
            mac.update(cursor);
            // Constant-time comparison of the truncated tag.
            mac.verify_truncated_left(tag)
                .map_err(|_| INVALID.to_string())?;
            return String::from_utf8(cursor.to_vec()).map_err(|_| INVALID.into());
        }
        if raw.len() < 1 + NONCE_LEN + TAG_LEN || raw[0] != VERSION {
            return Err(INVALID.into());
        }
        let (nonce, sealed) = raw[1..].split_at(NONCE_LEN);
        let cursor = self
            .cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad(scope),
                },
            )
            .map_err(|_| INVALID.to_string())?;
        String::from_utf8(cursor).map_err(|_| INVALID.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_tampering() {
        let tokens = PageTokens::random();
        let t = tokens.encode("registrations|tenants/a", "42");
        assert_eq!(
            tokens.decode("registrations|tenants/a", &t).as_deref(),
            Ok("42")
        );
        assert!(
            tokens.decode("registrations|tenants/b", &t).is_err(),
            "other scope"
        );
        assert!(
            PageTokens::random()
                .decode("registrations|tenants/a", &t)
                .is_err(),
            "other key"
        );
        let mut raw = URL_SAFE_NO_PAD.decode(&t).expect("base64");
        *raw.last_mut().expect("non-empty") ^= 1;
        let edited = URL_SAFE_NO_PAD.encode(raw);
        assert!(
            tokens.decode("registrations|tenants/a", &edited).is_err(),
            "edited cursor"
        );
        assert!(tokens.decode("registrations|tenants/a", "!!").is_err());
        assert!(tokens.decode("registrations|tenants/a", "").is_err());
    }

    #[test]
    fn signed_tokens_of_version_1_still_open() {
        let master = [7u8; 32];
        let tokens = PageTokens::with_master(&master);
        // A version 1 token exactly as it was made: HMAC over len(scope) || scope || cursor.
        let signed = |scope: &str, cursor: &str| {
            let mut mac = hmac(&master);
            mac.update(&aad(scope));
            mac.update(cursor.as_bytes());
            let mut raw = vec![SIGNED_VERSION];
            raw.extend_from_slice(&mac.finalize().into_bytes()[..SIGNED_MAC_LEN]);
            raw.extend_from_slice(cursor.as_bytes());
            URL_SAFE_NO_PAD.encode(raw)
        };
        let old = signed("changes|a", "42");
        assert_eq!(tokens.decode("changes|a", &old).as_deref(), Ok("42"));
        assert!(tokens.decode("changes|b", &old).is_err(), "other scope");
        assert!(
            PageTokens::with_master(&[8u8; 32])
                .decode("changes|a", &old)
                .is_err(),
            "other key"
        );
    }

    #[test]
    fn tokens_hide_the_cursor_and_are_stable() {
        let tokens = PageTokens::random();
        let cursor = "attendees/w:ann.lee@example.com";
        let t = tokens.encode("attendees|a|w", cursor);
        let raw = URL_SAFE_NO_PAD.decode(&t).expect("base64");
        let visible = String::from_utf8_lossy(&raw);
        assert!(!visible.contains("ann.lee"), "the email must not show");
        assert!(!t.contains(&URL_SAFE_NO_PAD.encode(cursor)));
        // The same position gives the same token (clients compare cursors); another differs.
        assert_eq!(t, tokens.encode("attendees|a|w", cursor));
        assert_ne!(
            t,
            tokens.encode("attendees|a|w", "attendees/w:bo@example.com")
        );
        assert_ne!(t, tokens.encode("attendees|a|v", cursor));
    }
}
