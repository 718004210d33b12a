//! In-memory snapshot of every key's metadata and unsealed KEKs, so data-key operations
//! never touch the database.
//!
//! How replicas agree: each replica rebuilds its snapshot from the database every
//! `refresh_interval` (default 2 s) and at once after its own admin changes. A rotation,
//! disable or deletion done through one replica is therefore in force on every replica
//! within one refresh interval (plus query time). Until then another replica may still wrap
//! under the previous primary version, which stays valid, so nothing breaks. KEKs are
//! unsealed once per version and kept (zeroized when the last snapshot referencing them
//! drops); keys that are not enabled hold no KEK in memory.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use crate::{
    crypto::Kek,
    rootkey::RootKey,
    store::{
        DbConn, StoreError,
        models::{KEY_ENABLED, KeyRow, VERSION_ENABLED},
        queries,
    },
};

use super::types::{kek_aad, version_num};

/// One version in the snapshot.
#[derive(Debug)]
pub(crate) struct CachedVersion {
    pub(crate) enabled: bool,
    /// Wrap count stored in the database at the last refresh.
    pub(crate) stored_wraps: i64,
    /// Wraps done by this replica not yet written to the database. Carried across
    /// snapshots so no count is lost.
    pub(crate) pending_wraps: Arc<AtomicU64>,
    /// `None` when the key is not enabled or unsealing failed (logged).
    pub(crate) kek: Option<Arc<Kek>>,
}

impl CachedVersion {
    /// Wraps done by this version as far as this replica knows.
    pub(crate) fn wraps(&self) -> u64 {
        u64::try_from(self.stored_wraps)
            .unwrap_or(0)
            .saturating_add(self.pending_wraps.load(Ordering::Relaxed))
    }
}

/// One key in the snapshot.
#[derive(Debug)]
pub(crate) struct CachedKey {
    pub(crate) row: KeyRow,
    pub(crate) versions: BTreeMap<u32, CachedVersion>,
}

impl CachedKey {
    /// The KEK that may unwrap `version`, if every rule allows it.
    pub(crate) fn unwrap_kek(&self, version: u32) -> Option<&Arc<Kek>> {
        if self.row.state != KEY_ENABLED || version < version_num(self.row.min_decryption_version) {
            return None;
        }
        let v = self.versions.get(&version)?;
        if !v.enabled {
            return None;
        }
        v.kek.as_ref()
    }

    pub(crate) fn primary(&self) -> Option<(u32, &CachedVersion)> {
        let n = version_num(self.row.primary_version);
        self.versions.get(&n).map(|v| (n, v))
    }
}

/// Everything a replica knows, replaced wholesale on refresh.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) keys: HashMap<String, CachedKey>,
}

impl Snapshot {
    /// Pending wrap counts to flush, as `(key id, version, n)`, taking them out of the
    /// counters. Call [`Snapshot::restore_pending`] if the write fails.
    pub(crate) fn take_pending(&self) -> Vec<(String, i32, i64)> {
        let mut out = Vec::new();
        for (id, key) in &self.keys {
            for (n, v) in &key.versions {
                let pending = v.pending_wraps.swap(0, Ordering::Relaxed);
                if pending > 0 {
                    out.push((
                        id.clone(),
                        i32::try_from(*n).unwrap_or(i32::MAX),
                        i64::try_from(pending).unwrap_or(i64::MAX),
                    ));
                }
            }
        }
        out
    }

    pub(crate) fn restore_pending(&self, taken: &[(String, i32, i64)]) {
        for (id, n, count) in taken {
            if let Some(v) = self
                .keys
                .get(id)
                .and_then(|k| k.versions.get(&version_num(*n)))
            {
                v.pending_wraps
                    .fetch_add(u64::try_from(*count).unwrap_or(0), Ordering::Relaxed);
            }
        }
    }
}

/// Builds a new snapshot from the database, reusing KEKs and pending counters of `old`.
/// With `strict`, a KEK that fails to unseal is an error (used at start, where a wrong root
/// key must stop the service); otherwise it is logged and the version cannot unwrap.
pub(crate) fn load(
    conn: &mut DbConn,
    root: &dyn RootKey,
    old: &Snapshot,
    strict: bool,
) -> Result<Snapshot, super::Error> {
    let (key_rows, version_rows) = queries::load_all(conn)?;
    let mut keys: HashMap<String, CachedKey> = key_rows
        .into_iter()
        .map(|row| {
            (
                row.id.clone(),
                CachedKey {
                    row,
                    versions: BTreeMap::new(),
                },
            )
        })
        .collect();
    for meta in version_rows {
        let Some(key) = keys.get_mut(&meta.key_id) else {
            continue;
        };
        let n = version_num(meta.version);
        let previous = old.keys.get(&meta.key_id).and_then(|k| k.versions.get(&n));
        let kek = if key.row.state != KEY_ENABLED {
            None
        } else if let Some(kek) = previous.and_then(|p| p.kek.clone()) {
            Some(kek)
        } else {
            match unseal(conn, root, &meta.key_id, n) {
                Ok(kek) => Some(Arc::new(kek)),
                Err(e) if strict => return Err(e),
                Err(e) => {
                    tracing::error!(key = %meta.key_id, version = n, error = %e, "cannot unseal KEK version");
                    None
                }
            }
        };
        key.versions.insert(
            n,
            CachedVersion {
                enabled: meta.state == VERSION_ENABLED,
                stored_wraps: meta.wrap_count,
                pending_wraps: previous
                    .map(|p| p.pending_wraps.clone())
                    .unwrap_or_default(),
                kek,
            },
        );
    }
    Ok(Snapshot { keys })
}

fn unseal(
    conn: &mut DbConn,
    root: &dyn RootKey,
    key_id: &str,
    version: u32,
) -> Result<Kek, super::Error> {
    let sealed = queries::sealed_kek(conn, key_id, i32::try_from(version).unwrap_or(i32::MAX))?
        .ok_or_else(|| StoreError::Unavailable("version vanished during refresh".into()))?;
    let plain = root.unseal(&kek_aad(key_id, version), &sealed)?;
    Kek::from_slice(&plain).ok_or_else(|| {
        super::Error::Internal(format!(
            "sealed KEK of keys/{key_id}/versions/{version} has the wrong length"
        ))
    })
}
