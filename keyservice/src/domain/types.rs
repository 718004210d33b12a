//! Plain Rust types of the domain (the edge maps them to and from proto messages), resource
//! name parsing, and conversions from stored rows.

use std::time::Duration;

use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use super::error::{Error, Result};
use crate::crypto::is_valid_key_id;

/// A key version, as `keys/{key}/versions/{version}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyVersionRef {
    /// Key id.
    pub key_id: String,
    /// Version number, >= 1.
    pub version: u32,
}

impl KeyVersionRef {
    /// Resource name, `keys/{key}/versions/{version}`.
    pub fn name(&self) -> String {
        format!("keys/{}/versions/{}", self.key_id, self.version)
    }
}

/// What a key is for (only one purpose so far).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// Wrap and unwrap data keys.
    EncryptDecrypt,
}

/// Lifecycle of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Wraps and unwraps.
    Enabled,
    /// Refuses data-key operations until cancelled or destroyed.
    DeleteScheduled,
    /// Material erased; refuses everything.
    Destroyed,
}

/// Whether a version may unwrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyVersionState {
    /// May unwrap (and wrap, if primary).
    Enabled,
    /// Refuses to unwrap.
    Disabled,
}

/// When the service rotates a key by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RotationPolicy {
    /// Rotate when the primary version is older than this (`None`: never by time).
    pub rotation_period: Option<Duration>,
    /// Rotate once the primary has wrapped this many keys (0: the service default).
    pub max_wraps_per_version: u64,
}

/// What `create_key` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// Key id (`{key}` of `keys/{key}`).
    pub id: String,
    /// Purpose.
    pub purpose: KeyPurpose,
    /// Rotation policy.
    pub rotation_policy: RotationPolicy,
}

/// A key as callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Key id.
    pub id: String,
    /// Purpose.
    pub purpose: KeyPurpose,
    /// State.
    pub state: KeyState,
    /// Version that wraps new data keys.
    pub primary_version: u32,
    /// Lowest version allowed to unwrap.
    pub min_decryption_version: u32,
    /// Rotation policy as stored (0 wraps = service default).
    pub rotation_policy: RotationPolicy,
    /// Next time-based rotation, if the policy has a period.
    pub next_rotation_time: Option<DateTime<Utc>>,
    /// When a scheduled deletion takes effect.
    pub delete_time: Option<DateTime<Utc>>,
    /// Creation time.
    pub create_time: DateTime<Utc>,
    /// Last change.
    pub update_time: DateTime<Utc>,
}

impl Key {
    /// Resource name, `keys/{key}`.
    pub fn name(&self) -> String {
        format!("keys/{}", self.id)
    }
}

/// One version of a key as callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVersion {
    /// Which version.
    pub reference: KeyVersionRef,
    /// State.
    pub state: KeyVersionState,
    /// Wraps recorded in the database (flushed from replicas every refresh interval).
    pub wrap_count: u64,
    /// Creation time.
    pub create_time: DateTime<Utc>,
}

/// A page of `list_keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPage {
    /// Keys ordered by id.
    pub keys: Vec<Key>,
    /// Token for the next page; empty on the last page.
    pub next_page_token: String,
}

/// Result of `generate_data_key`. `Debug` redacts the plaintext.
pub struct GeneratedDataKey {
    /// The new 32-byte data key, zeroized on drop.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The wrapped form.
    pub wrapped_key: Vec<u8>,
    /// Version that wrapped it.
    pub version: KeyVersionRef,
}

impl std::fmt::Debug for GeneratedDataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedDataKey")
            .field("plaintext", &"<redacted>")
            .field("wrapped_key_len", &self.wrapped_key.len())
            .field("version", &self.version)
            .finish()
    }
}

/// Result of `wrap` and `rewrap`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedDataKey {
    /// The wrapped form.
    pub wrapped_key: Vec<u8>,
    /// Version that wrapped it.
    pub version: KeyVersionRef,
}

/// One item of `batch_generate_data_keys`. `Debug` shows only the length of the
/// associated data (it is the caller's context and must not reach logs in clear).
#[derive(Clone, PartialEq, Eq)]
pub struct GenerateItem {
    /// Key id.
    pub key_id: String,
    /// Caller context bound to the wrapped key.
    pub associated_data: Vec<u8>,
}

/// One item of `batch_unwrap` and `batch_rewrap`. `Debug` shows only lengths.
#[derive(Clone, PartialEq, Eq)]
pub struct UnwrapItem {
    /// Wrapped key bytes.
    pub wrapped_key: Vec<u8>,
    /// Caller context given when wrapping.
    pub associated_data: Vec<u8>,
}

impl std::fmt::Debug for GenerateItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerateItem")
            .field("key_id", &self.key_id)
            .field("associated_data_len", &self.associated_data.len())
            .finish()
    }
}

impl std::fmt::Debug for UnwrapItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnwrapItem")
            .field("wrapped_key_len", &self.wrapped_key.len())
            .field("associated_data_len", &self.associated_data.len())
            .finish()
    }
}

/// Parses `keys/{key}` into the key id.
pub fn parse_key_name(name: &str) -> Result<String> {
    name.strip_prefix("keys/")
        .filter(|id| is_valid_key_id(id))
        .map(str::to_owned)
        .ok_or_else(|| Error::invalid("name", "must be keys/{key} with a valid key id"))
}

/// Parses `keys/{key}/versions/{version}`.
pub fn parse_version_name(name: &str) -> Result<KeyVersionRef> {
    let bad = || Error::invalid("name", "must be keys/{key}/versions/{version}");
    let rest = name.strip_prefix("keys/").ok_or_else(bad)?;
    let (id, version) = rest.split_once("/versions/").ok_or_else(bad)?;
    if !is_valid_key_id(id) || version.starts_with('0') || version.starts_with('+') {
        return Err(bad());
    }
    let version: u32 = version.parse().map_err(|_| bad())?;
    Ok(KeyVersionRef {
        key_id: id.to_owned(),
        version,
    })
}

/// The AAD that binds a sealed KEK to its key id and version:
/// `"keyservice-kek-v1" || u8 len(key_id) || key_id || u32 BE version`.
pub fn kek_aad(key_id: &str, version: u32) -> Vec<u8> {
    const LABEL: &[u8] = b"keyservice-kek-v1";
    let mut aad = Vec::with_capacity(LABEL.len() + 1 + key_id.len() + 4);
    aad.extend_from_slice(LABEL);
    // Key ids are at most 63 bytes.
    aad.push(key_id.len() as u8);
    aad.extend_from_slice(key_id.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_debug_redacts() {
        let key = GeneratedDataKey {
            plaintext: Zeroizing::new(vec![0xAB; 32]),
            wrapped_key: vec![1, 2],
            version: KeyVersionRef {
                key_id: "k".into(),
                version: 1,
            },
        };
        let shown = format!("{key:?}");
        assert!(
            shown.contains("<redacted>") && !shown.contains("171"),
            "{shown}"
        );
    }

    #[test]
    fn names() {
        assert_eq!(
            parse_key_name("keys/on24-credentials").expect("ok"),
            "on24-credentials"
        );
        assert!(parse_key_name("keys/").is_err());
        assert!(parse_key_name("key/a").is_err());
        assert!(parse_key_name("keys/a/versions/1").is_err());
        let v = parse_version_name("keys/a/versions/12").expect("ok");
        assert_eq!((v.key_id.as_str(), v.version), ("a", 12));
        assert_eq!(v.name(), "keys/a/versions/12");
        for bad in [
            "keys/a/versions/",
            "keys/a/versions/01",
            "keys/a/versions/-1",
            "keys/a/versions/+1",
            "keys/A/versions/1",
            "keys/a/versions/99999999999",
        ] {
            assert!(parse_version_name(bad).is_err(), "{bad}");
        }
    }
}
