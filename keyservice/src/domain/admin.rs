//! Admin operations that create or read keys: create, get, list and rotate (changes to
//! existing keys are in `lifecycle`). Writes go through the database with compare-and-set
//! and then refresh this replica's snapshot.

use base64::Engine;

use super::{
    Error, Key, KeyManager, KeyPage, KeyVersion, KeyVersionRef, KeyVersionState,
    MAX_WRAPS_PER_VERSION_LIMIT, NewKey, Result,
    rows::{key_from_row, now_micros, version_from_meta, version_num},
    types::kek_aad,
};
use crate::{
    crypto::{Kek, is_valid_key_id},
    store::{
        DbConn,
        models::{
            KEY_DELETE_SCHEDULED, KEY_ENABLED, KeyRow, NewVersion, PURPOSE_ENCRYPT_DECRYPT,
            VERSION_ENABLED,
        },
        queries,
    },
};

/// How often a compare-and-set write is retried before giving up with `Aborted`.
pub(super) const CAS_ATTEMPTS: usize = 5;
/// Largest page of `list_keys`.
const MAX_PAGE_SIZE: i32 = 1000;
/// Page size when none is given.
const DEFAULT_PAGE_SIZE: i32 = 100;

pub(super) fn to_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

pub(super) fn load_key(conn: &mut DbConn, id: &str) -> Result<KeyRow> {
    queries::get_key(conn, id)?.ok_or_else(|| Error::NotFound(format!("keys/{id}")))
}

pub(super) fn key_view(conn: &mut DbConn, row: &KeyRow) -> Result<Key> {
    let versions = queries::versions_of(conn, &row.id)?;
    let primary_created = versions
        .iter()
        .find(|v| v.version == row.primary_version)
        .map(|v| v.created_at);
    Ok(key_from_row(row, primary_created))
}

pub(super) fn require_enabled(row: &KeyRow) -> Result<()> {
    match row.state {
        KEY_ENABLED => Ok(()),
        KEY_DELETE_SCHEDULED => Err(Error::FailedPrecondition(format!(
            "keys/{} is scheduled for deletion",
            row.id
        ))),
        _ => Err(Error::FailedPrecondition(format!(
            "keys/{} is destroyed",
            row.id
        ))),
    }
}

impl KeyManager {
    pub(super) async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.inner.store.run(f).await
    }

    /// Creates a key with version 1 as primary.
    pub async fn create_key(&self, new: NewKey) -> Result<Key> {
        if !is_valid_key_id(&new.id) {
            return Err(Error::invalid(
                "key_id",
                "1 to 63 of [a-z0-9-], starting with a letter",
            ));
        }
        let policy = new.rotation_policy;
        let period_secs = match policy.rotation_period.filter(|p| !p.is_zero()) {
            None => None,
            Some(p) if p < self.inner.settings.min_rotation_period || p.as_secs() == 0 => {
                return Err(Error::invalid(
                    "key.rotation_policy.rotation_period",
                    format!("at least {:?}", self.inner.settings.min_rotation_period),
                ));
            }
            Some(p) => Some(i64::try_from(p.as_secs()).unwrap_or(i64::MAX)),
        };
        if policy.max_wraps_per_version > MAX_WRAPS_PER_VERSION_LIMIT {
            return Err(Error::invalid(
                "key.rotation_policy.max_wraps_per_version",
                format!("at most {MAX_WRAPS_PER_VERSION_LIMIT}"),
            ));
        }
        let now = now_micros();
        let row = KeyRow {
            id: new.id.clone(),
            purpose: PURPOSE_ENCRYPT_DECRYPT,
            state: KEY_ENABLED,
            primary_version: 1,
            min_decryption_version: 1,
            rotation_period_secs: period_secs,
            max_wraps_per_version: i64::try_from(policy.max_wraps_per_version).unwrap_or(0),
            delete_at: None,
            created_at: now,
            updated_at: now,
            generation: 0,
        };
        let root = self.inner.root.clone();
        let key = self
            .db(move |conn| {
                let first = new_version(&*root, &row.id, 1, now)?;
                if !queries::insert_key(conn, &row, &first)? {
                    return Err(Error::AlreadyExists(format!("keys/{}", row.id)));
                }
                Ok(key_from_row(&row, Some(now)))
            })
            .await?;
        self.announce_change().await?;
        Ok(key)
    }

    /// A key and all its versions, oldest first.
    pub async fn get_key(&self, id: &str) -> Result<(Key, Vec<KeyVersion>)> {
        let id = id.to_owned();
        self.db(move |conn| {
            let row = load_key(conn, &id)?;
            let versions = queries::versions_of(conn, &id)?;
            let primary_created = versions
                .iter()
                .find(|v| v.version == row.primary_version)
                .map(|v| v.created_at);
            Ok((
                key_from_row(&row, primary_created),
                versions.iter().map(version_from_meta).collect(),
            ))
        })
        .await
    }

    /// One page of keys ordered by id. `page_size` 0 means 100; larger than 1000 means 1000.
    pub async fn list_keys(&self, page_size: i32, page_token: &str) -> Result<KeyPage> {
        let size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n < 0 => return Err(Error::invalid("page_size", "must not be negative")),
            n => n.min(MAX_PAGE_SIZE),
        };
        let after = if page_token.is_empty() {
            None
        } else {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(page_token)
                .map_err(|_| Error::invalid("page_token", "not a token from ListKeys"))?;
            let id = String::from_utf8(bytes)
                .ok()
                .filter(|id| is_valid_key_id(id))
                .ok_or_else(|| Error::invalid("page_token", "not a token from ListKeys"))?;
            Some(id)
        };
        self.db(move |conn| {
            // One extra row tells whether another page follows.
            let mut rows = queries::list_keys(conn, after.as_deref(), i64::from(size) + 1)?;
            let more = rows.len() > usize::try_from(size).unwrap_or(usize::MAX);
            rows.truncate(usize::try_from(size).unwrap_or(usize::MAX));
            let next_page_token = match (more, rows.last()) {
                (true, Some(last)) => {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&last.id)
                }
                _ => String::new(),
            };
            let keys = rows
                .iter()
                .map(|row| key_view(conn, row))
                .collect::<Result<Vec<_>>>()?;
            Ok(KeyPage {
                keys,
                next_page_token,
            })
        })
        .await
    }

    /// One compare-and-set rotation attempt. With `expected_primary`, rotates only if the
    /// primary is still that version (`Ok(None)` otherwise: someone else rotated).
    async fn rotate_once(
        &self,
        id: &str,
        expected_primary: Option<u32>,
    ) -> Result<Option<(Key, KeyVersion)>> {
        let id = id.to_owned();
        let root = self.inner.root.clone();
        self.db(move |conn| {
            let mut row = load_key(conn, &id)?;
            require_enabled(&row)?;
            let current = version_num(row.primary_version);
            if expected_primary.is_some_and(|expected| expected != current) {
                return Ok(None);
            }
            let next = current
                .checked_add(1)
                .filter(|n| i32::try_from(*n).is_ok())
                .ok_or_else(|| {
                    Error::ResourceExhausted(format!("keys/{id} has no versions left"))
                })?;
            let now = now_micros();
            let version = new_version(&*root, &id, next, now)?;
            row.primary_version = to_i32(next);
            row.updated_at = now;
            if !queries::rotate(conn, &row, &version)? {
                return Ok(None);
            }
            row.generation += 1;
            let key = key_from_row(&row, Some(now));
            let version = KeyVersion {
                reference: KeyVersionRef {
                    key_id: id.clone(),
                    version: next,
                },
                state: KeyVersionState::Enabled,
                wrap_count: 0,
                create_time: super::rows::time(now),
            };
            Ok(Some((key, version)))
        })
        .await
    }

    /// Rotates only if `expected` is still the primary; used by automatic rotation.
    pub(crate) async fn rotate_if_primary(
        &self,
        id: &str,
        expected: u32,
    ) -> Result<Option<KeyVersionRef>> {
        Ok(self
            .rotate_once(id, Some(expected))
            .await?
            .map(|(_, v)| v.reference))
    }

    /// Creates a new version and makes it primary.
    pub async fn rotate_key(&self, id: &str) -> Result<(Key, KeyVersion)> {
        for _ in 0..CAS_ATTEMPTS {
            if let Some(done) = self.rotate_once(id, None).await? {
                self.announce_change().await?;
                return Ok(done);
            }
        }
        Err(Error::Aborted(format!("keys/{id}")))
    }
}

/// A new version row with a fresh KEK sealed under the root key.
fn new_version(
    root: &dyn crate::rootkey::RootKey,
    id: &str,
    version: u32,
    now: i64,
) -> Result<NewVersion> {
    let kek = Kek::generate();
    let sealed = root.seal(&kek_aad(id, version), kek.expose())?;
    Ok(NewVersion {
        key_id: id.to_owned(),
        version: to_i32(version),
        state: VERSION_ENABLED,
        sealed_kek: sealed,
        wrap_count: 0,
        created_at: now,
    })
}
