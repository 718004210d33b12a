//! Root-key providers: the one secret that seals every KEK version stored in the database.
//!
//! A provider is chosen by a spec string:
//! - `file:PATH`: 32 bytes, raw or base64, in a file readable only by its owner;
//! - `env:VAR`: base64 of 32 bytes in an environment variable (development only, warns);
//! - `pkcs11:...`: an AES key inside an HSM that never leaves it (see [`Pkcs11Config`]).
//!
//! Sealed blobs of every provider have the same layout: `0x01 || 12-byte nonce || AES-256-GCM
//! ciphertext || 16-byte tag`, with the caller's AAD (key id and version) authenticated.

mod env;
mod file;
mod pkcs11;
mod pkcs11_config;
mod software;

use std::sync::Arc;

use zeroize::Zeroizing;

pub use env::EnvRootKey;
pub use file::{FileRootKey, generate_root_key_file};
pub use pkcs11::{Pkcs11RootKey, create_pkcs11_root_key};
pub use pkcs11_config::{PinSource, Pkcs11Config};
pub use software::SoftwareRootKey;

/// Hides which provider holds the root key.
pub trait RootKey: Send + Sync + std::fmt::Debug {
    /// Encrypts `plaintext` (a KEK) under the root key, authenticating `aad`.
    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, RootKeyError>;
    /// Decrypts what [`RootKey::seal`] returned for the same `aad`.
    fn unseal(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, RootKeyError>;
    /// A short description for logs (provider kind, token label); never secret.
    fn describe(&self) -> String;
    /// The audit key derived from the root key (HKDF-SHA-256, `audit::AUDIT_KEY_LABEL`), for
    /// providers that hold the key in memory; an HSM key never leaves the token, so there
    /// `audit.key` must name a key file.
    fn audit_key(&self) -> Result<servicekit::audit::AuditKey, RootKeyError> {
        Err(RootKeyError::CannotDerive(self.describe()))
    }
}

/// Why a root key could not be opened or used. Messages never contain key material or PINs.
#[derive(Debug, thiserror::Error)]
pub enum RootKeyError {
    /// The spec string is not `file:`, `env:` or `pkcs11:` or is malformed.
    #[error("invalid root key spec: {0}")]
    InvalidSpec(String),
    /// Reading the key file or PIN failed.
    #[error("root key I/O error on {path}: {source}")]
    Io {
        /// Which file.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The key file is readable by group or others.
    #[error("root key file {0} is readable by group or others; chmod 600 it")]
    InsecurePermissions(String),
    /// The material is not 32 bytes (raw or base64).
    #[error("root key from {0} is not 32 bytes (raw or base64)")]
    BadLength(String),
    /// The HSM refused or failed.
    #[error("PKCS#11 error: {0}")]
    Pkcs11(String),
    /// The provider cannot derive other keys (an HSM key never leaves the token).
    #[error("root key {0} cannot derive the audit key")]
    CannotDerive(String),
    /// A sealed blob did not authenticate under this root key and AAD.
    #[error("sealed data does not authenticate under the root key")]
    Unseal,
}

/// Opens the provider named by `spec` (`file:PATH`, `env:VAR` or a `pkcs11:` URI).
pub fn open(spec: &str) -> Result<Arc<dyn RootKey>, RootKeyError> {
    open_with(spec, false)
}

/// [`open`], where `allow_group_read` lets a `file:` key be readable by its group (see
/// [`FileRootKey::open_with`]).
pub fn open_with(spec: &str, allow_group_read: bool) -> Result<Arc<dyn RootKey>, RootKeyError> {
    if let Some(path) = spec.strip_prefix("file:") {
        Ok(Arc::new(FileRootKey::open_with(path, allow_group_read)?))
    } else if let Some(var) = spec.strip_prefix("env:") {
        Ok(Arc::new(EnvRootKey::open(var)?))
    } else if spec.starts_with("pkcs11:") {
        Ok(Arc::new(Pkcs11RootKey::open(&Pkcs11Config::parse(spec)?)?))
    } else {
        Err(RootKeyError::InvalidSpec(
            "expected file:PATH, env:VAR or pkcs11:...".into(),
        ))
    }
}

/// Decodes 32 key bytes given raw or as (standard, padded or not) base64 text.
fn decode_key_material(raw: &[u8], origin: &str) -> Result<Zeroizing<[u8; 32]>, RootKeyError> {
    use base64::Engine;
    let mut key = Zeroizing::new([0u8; 32]);
    if raw.len() == 32 {
        key.copy_from_slice(raw);
        return Ok(key);
    }
    let text = std::str::from_utf8(raw).map_err(|_| RootKeyError::BadLength(origin.into()))?;
    let text = text.trim();
    let decoded = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|_| RootKeyError::BadLength(origin.into()))?,
    );
    if decoded.len() != 32 {
        return Err(RootKeyError::BadLength(origin.into()));
    }
    key.copy_from_slice(&decoded);
    Ok(key)
}
