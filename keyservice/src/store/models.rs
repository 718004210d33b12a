//! Rows as stored. Integers encode enums (see the migration comments); the domain layer
//! converts them to typed values.

use diesel::prelude::*;

use super::schema::{key_versions, keys};

/// `keys.state`: enabled.
pub const KEY_ENABLED: i32 = 1;
/// `keys.state`: deletion scheduled.
pub const KEY_DELETE_SCHEDULED: i32 = 2;
/// `keys.state`: destroyed (sealed KEKs erased).
pub const KEY_DESTROYED: i32 = 3;
/// `key_versions.state`: enabled.
pub const VERSION_ENABLED: i32 = 1;
/// `key_versions.state`: disabled.
pub const VERSION_DISABLED: i32 = 2;
/// `keys.purpose`: encrypt/decrypt.
pub const PURPOSE_ENCRYPT_DECRYPT: i32 = 1;

/// One row of `keys`.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = keys)]
pub struct KeyRow {
    /// Key id.
    pub id: String,
    /// Purpose code.
    pub purpose: i32,
    /// State code.
    pub state: i32,
    /// Primary version.
    pub primary_version: i32,
    /// Lowest version that may unwrap.
    pub min_decryption_version: i32,
    /// Time-based rotation period in seconds, if any.
    pub rotation_period_secs: Option<i64>,
    /// Wrap limit per version (0 = service default).
    pub max_wraps_per_version: i64,
    /// When a scheduled deletion takes effect.
    pub delete_at: Option<i64>,
    /// Creation time.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
    /// Optimistic-concurrency counter.
    pub generation: i64,
}

/// One row of `key_versions` without the sealed KEK (what listings and caches read).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = key_versions)]
pub struct VersionMeta {
    /// Key id.
    pub key_id: String,
    /// Version number.
    pub version: i32,
    /// State code.
    pub state: i32,
    /// Data keys wrapped so far (flushed periodically).
    pub wrap_count: i64,
    /// Creation time.
    pub created_at: i64,
}

/// A new `key_versions` row.
#[derive(Clone, Insertable)]
#[diesel(table_name = key_versions)]
pub struct NewVersion {
    /// Key id.
    pub key_id: String,
    /// Version number.
    pub version: i32,
    /// State code.
    pub state: i32,
    /// KEK sealed under the root key.
    pub sealed_kek: Vec<u8>,
    /// Always 0 on insert.
    pub wrap_count: i64,
    /// Creation time.
    pub created_at: i64,
}

impl std::fmt::Debug for NewVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewVersion")
            .field("key_id", &self.key_id)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}
