//! Data-key cryptography: the self-describing wrapped-key format and AES-256-GCM wrapping
//! under a key-encryption key (KEK).
//!
//! Every failure to unwrap is the same [`CannotUnwrap`] so callers learn nothing about
//! which check failed (no padding/format/tag oracle).

mod aead;
mod format;
#[cfg(test)]
mod vectors;

pub use aead::{KEK_LEN, Kek, unwrap, wrap, wrap_with_nonce};
pub use format::{
    FORMAT_V1, MAX_KEY_ID_LEN, NONCE_LEN, TAG_LEN, WrappedKey, WrappedKeyHeader, encode_header,
    is_valid_key_id,
};

/// The one error of unwrapping, whatever went wrong. Deliberately carries no detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot unwrap")]
pub struct CannotUnwrap;
