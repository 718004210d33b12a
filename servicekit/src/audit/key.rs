//! The audit key: the secret that keys the chain's HMAC (and, through labelled sub-keys,
//! anything else a service keys for its audit records, such as the key service's
//! associated-data HMAC). It must be the same across restarts and replicas, or records cannot
//! be verified or correlated: a service derives it from a persistent secret
//! ([`AuditKey::derive`], HKDF-SHA-256 with a documented label) or reads it from a file
//! ([`AuditKey::load_file`]).

use std::{os::unix::fs::PermissionsExt, path::Path};

use base64::Engine as _;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

/// HKDF `info` of the sub-key that keys the chain HMAC.
pub const CHAIN_LABEL: &str = "webinar audit chain hmac v1";

/// A 32-byte audit key, zeroized on drop; never printed.
pub struct AuditKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

/// Why an audit key file cannot be used. Never carries key bytes.
#[derive(Debug, thiserror::Error)]
pub enum AuditKeyError {
    /// The file cannot be read.
    #[error("audit key {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Group-writable or accessible to others.
    #[error(
        "audit key {0}: group-writable or accessible to others; chmod 600 (or 440 for a mounted Secret)"
    )]
    Permissions(String),
    /// Not 32 bytes raw, 64 hex characters or base64 of 32 bytes.
    #[error("audit key {0}: expected 32 raw bytes, 64 hex characters or base64 of 32 bytes")]
    Format(String),
}

impl AuditKey {
    /// Uses 32 bytes as they are.
    pub fn from_bytes(key: Zeroizing<[u8; 32]>) -> Self {
        Self(key)
    }

    /// HKDF-SHA-256 of `secret` (no salt) with `label` as `info`: the same secret and label
    /// always give the same key, and different labels independent keys.
    pub fn derive(secret: &[u8], label: &str) -> Self {
        Self(expand(secret, label))
    }

    /// Reads a key file: 32 raw bytes, 64 hex characters or base64 of 32 bytes. The file
    /// (after following symlinks, as a Kubernetes Secret mount is one) may be readable by
    /// its owner and group (0400, 0440, 0600, 0640) but never group-writable or accessible
    /// to others.
    pub fn load_file(path: &Path) -> Result<Self, AuditKeyError> {
        let shown = path.display().to_string();
        let read_error = |source| AuditKeyError::Read {
            path: shown.clone(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(read_error)?;
        if meta.permissions().mode() & 0o027 != 0 {
            return Err(AuditKeyError::Permissions(shown));
        }
        let raw = Zeroizing::new(std::fs::read(path).map_err(read_error)?);
        decode_key(&raw)
            .map(Self)
            .ok_or(AuditKeyError::Format(shown))
    }

    /// The key's own bytes (for a key file that holds an HMAC key itself).
    pub fn into_bytes(self) -> Zeroizing<[u8; 32]> {
        self.0
    }

    /// The sub-key for `label` (HKDF-SHA-256 with this key as input).
    pub fn subkey(&self, label: &str) -> Zeroizing<[u8; 32]> {
        expand(self.0.as_slice(), label)
    }
}

fn expand(secret: &[u8], label: &str) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA-256's limit of 255 * 32, so expand cannot fail.
    let _ = Hkdf::<Sha256>::new(None, secret).expand(label.as_bytes(), out.as_mut());
    out
}

/// 32 raw bytes, else hex, else base64 (text may end in a newline).
pub fn decode_key(raw: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    let mut key = Zeroizing::new([0u8; 32]);
    if raw.len() == 32 {
        key.copy_from_slice(raw);
        return Some(key);
    }
    let text = std::str::from_utf8(raw).ok()?.trim();
    let bytes = Zeroizing::new(
        hex::decode(text)
            .ok()
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())?,
    );
    (bytes.len() == 32).then(|| {
        key.copy_from_slice(&bytes);
        key
    })
}
