//! Opaque page tokens and change-feed cursors: `base64url(version || HMAC-SHA256-128 || cursor)`.
//!
//! The MAC binds the store's cursor to the scope of the request (method, parent, filter), so a
//! token cannot be forged, edited, or replayed against another tenant, webinar or filter; such
//! a token is INVALID_ARGUMENT, never a silent restart from the first page. The key is shared by
//! all replicas through `api.page_token_key_file`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const MAC_LEN: usize = 16;
const MAX_TOKEN_LEN: usize = 1024;

/// Signs and checks page tokens.
#[derive(Clone)]
pub struct PageTokens {
    key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageTokens(..)")
    }
}

impl PageTokens {
    /// A signer with a random key (tokens do not survive a restart).
    pub fn random() -> Self {
        let mut key = Zeroizing::new(vec![0u8; 32]);
        rand::fill(key.as_mut_slice());
        Self { key }
    }

    /// A signer with the key in `path` (at least 32 bytes).
    pub fn from_file(path: &std::path::Path) -> Result<Self, String> {
        let key = Zeroizing::new(
            std::fs::read(path)
                .map_err(|e| format!("api.page_token_key_file ({}): {e}", path.display()))?,
        );
        if key.len() < 32 {
            return Err("api.page_token_key_file must hold at least 32 bytes".into());
        }
        Ok(Self { key })
    }

    fn mac(&self, scope: &str, cursor: &[u8]) -> Hmac<Sha256> {
        // HMAC accepts keys of any length; the error case cannot happen.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(&(scope.len() as u64).to_be_bytes());
        mac.update(scope.as_bytes());
        mac.update(cursor);
        mac
    }

    /// Wraps a store cursor for `scope`.
    pub fn encode(&self, scope: &str, cursor: &str) -> String {
        let tag = self.mac(scope, cursor.as_bytes()).finalize().into_bytes();
        let mut raw = Vec::with_capacity(1 + MAC_LEN + cursor.len());
        raw.push(VERSION);
        raw.extend_from_slice(&tag[..MAC_LEN]);
        raw.extend_from_slice(cursor.as_bytes());
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Checks a token for `scope` and returns the store cursor inside.
    pub fn decode(&self, scope: &str, token: &str) -> Result<String, String> {
        const INVALID: &str = "is not a token returned by this API for the same request";
        if token.len() > MAX_TOKEN_LEN {
            return Err(INVALID.into());
        }
        let raw = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| INVALID.to_string())?;
        if raw.len() < 1 + MAC_LEN || raw[0] != VERSION {
            return Err(INVALID.into());
        }
        let (tag, cursor) = raw[1..].split_at(MAC_LEN);
        // Constant-time comparison of the truncated tag.
        self.mac(scope, cursor)
            .verify_truncated_left(tag)
            .map_err(|_| INVALID.to_string())?;
        String::from_utf8(cursor.to_vec()).map_err(|_| INVALID.into())
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
}
