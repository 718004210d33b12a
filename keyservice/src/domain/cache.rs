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
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
};

use crate::{
    crypto::Kek,
    rootkey::RootKey,
    store::{
        DbConn,
        models::{KEY_ENABLED, KeyRow, VERSION_ENABLED},
        queries,
    },
};

use super::{rows::version_num, types::kek_aad};

/// Wraps done by this replica with one version, and when it last unwrapped with it, shared
/// by every snapshot so nothing is lost when snapshots are replaced.
#[derive(Debug, Default)]
pub(crate) struct WrapCounter {
    /// Every wrap this replica has done with the version (only grows).
    total: AtomicU64,
    /// How many of `total` have been added to the database (changed only by refresh).
    flushed: AtomicU64,
    /// The latest unwrap with the version by this replica (µs since the epoch, 0: none), to
    /// [`UNWRAP_TIME_GRAIN`].
    last_unwrap: AtomicI64,
    /// `last_unwrap` as last written to the database (changed only by refresh).
    flushed_unwrap: AtomicI64,
}

/// How stale the noted time of a version's latest unwrap may be (µs). Every unwrap notes it,
/// so a store per call would make the cores fight over one cache line; a second is nothing
/// against the window of days it is compared with (`min_version_use_window`).
const UNWRAP_TIME_GRAIN: i64 = 1_000_000;

/// One version in the snapshot.
#[derive(Debug)]
pub(crate) struct CachedVersion {
    pub(crate) enabled: bool,
    /// Wrap count stored in the database when this snapshot was loaded.
    pub(crate) stored_wraps: i64,
    /// This replica's counter for the version.
    pub(crate) counter: Arc<WrapCounter>,
    /// `counter.flushed` when `stored_wraps` was read: the local wraps already inside it.
    pub(crate) flushed_at_load: u64,
    /// `None` when the key is not enabled or unsealing failed (logged).
    pub(crate) kek: Option<Arc<Kek>>,
}

impl CachedVersion {
    /// Wraps done by this version as far as this replica knows: the stored count plus the
    /// local wraps not yet in it. Never undercounts while a refresh is in flight, because
    /// both terms come from the same moment of this snapshot.
    pub(crate) fn wraps(&self) -> u64 {
        let local = self
            .counter
            .total
            .load(Ordering::Acquire)
            .saturating_sub(self.flushed_at_load);
        u64::try_from(self.stored_wraps)
            .unwrap_or(0)
            .saturating_add(local)
    }

    /// Notes an unwrap with this version at `now` (µs since the epoch).
    pub(crate) fn note_unwrap(&self, now: i64) {
        let last = &self.counter.last_unwrap;
        if now.saturating_sub(last.load(Ordering::Relaxed)) >= UNWRAP_TIME_GRAIN {
            last.fetch_max(now, Ordering::Relaxed);
        }
    }

    /// Counts one more wrap if the version stays within `limit`; `false` (nothing counted)
    /// when it has reached it.
    pub(crate) fn try_count_wrap(&self, limit: u64) -> bool {
        let before = self.counter.total.fetch_add(1, Ordering::AcqRel);
        let stored = u64::try_from(self.stored_wraps).unwrap_or(0);
        if stored.saturating_add(before.saturating_sub(self.flushed_at_load)) < limit {
            true
        } else {
            self.counter.total.fetch_sub(1, Ordering::AcqRel);
            false
        }
    }
}

/// One key in the snapshot.
#[derive(Debug)]
pub(crate) struct CachedKey {
    pub(crate) row: KeyRow,
    pub(crate) versions: BTreeMap<u32, CachedVersion>,
}

impl CachedKey {
    /// The version that may unwrap `version`, with its KEK, if every rule allows it.
    pub(crate) fn unwrap_kek(&self, version: u32) -> Option<(&CachedVersion, &Kek)> {
        if self.row.state != KEY_ENABLED || version < version_num(self.row.min_decryption_version) {
            return None;
        }
        let v = self.versions.get(&version)?;
        if !v.enabled {
            return None;
        }
        Some((v, v.kek.as_deref()?))
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

/// Local wraps of one version not yet in the database.
#[derive(Debug, Clone)]
pub(crate) struct PendingWraps {
    pub(crate) key_id: String,
    pub(crate) version: i32,
    pub(crate) count: i64,
    counter: Arc<WrapCounter>,
    total: u64,
}

impl PendingWraps {
    /// Records that `count` is now in the database.
    pub(crate) fn mark_flushed(&self) {
        self.counter.flushed.store(self.total, Ordering::Release);
    }
}

/// A version's latest unwrap by this replica, not yet in the database.
#[derive(Debug, Clone)]
pub(crate) struct PendingUnwrap {
    pub(crate) key_id: String,
    pub(crate) version: i32,
    pub(crate) at: i64,
    counter: Arc<WrapCounter>,
}

impl PendingUnwrap {
    /// Records that `at` is now in the database.
    pub(crate) fn mark_flushed(&self) {
        self.counter
            .flushed_unwrap
            .fetch_max(self.at, Ordering::AcqRel);
    }
}

impl Snapshot {
    /// The versions whose latest unwrap is not yet in the database. Nothing changes until
    /// [`PendingUnwrap::mark_flushed`] after a successful write.
    pub(crate) fn pending_unwraps(&self) -> Vec<PendingUnwrap> {
        let mut out = Vec::new();
        for (id, key) in &self.keys {
            for (n, v) in &key.versions {
                let at = v.counter.last_unwrap.load(Ordering::Acquire);
                if at > v.counter.flushed_unwrap.load(Ordering::Acquire) {
                    out.push(PendingUnwrap {
                        key_id: id.clone(),
                        version: i32::try_from(*n).unwrap_or(i32::MAX),
                        at,
                        counter: v.counter.clone(),
                    });
                }
            }
        }
        out
    }

    /// Local wrap counts not yet written to the database. Nothing changes until
    /// [`PendingWraps::mark_flushed`] after a successful write.
    pub(crate) fn pending(&self) -> Vec<PendingWraps> {
        let mut out = Vec::new();
        for (id, key) in &self.keys {
            for (n, v) in &key.versions {
                let total = v.counter.total.load(Ordering::Acquire);
                let flushed = v.counter.flushed.load(Ordering::Acquire);
                if total > flushed {
                    out.push(PendingWraps {
                        key_id: id.clone(),
                        version: i32::try_from(*n).unwrap_or(i32::MAX),
                        count: i64::try_from(total - flushed).unwrap_or(i64::MAX),
                        counter: v.counter.clone(),
                        total,
                    });
                }
            }
        }
        out
    }
}

/// Above this many KEKs to unseal, sealed rows are read in one query instead of one each.
const BULK_LOAD_THRESHOLD: usize = 8;

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
    // Versions whose KEK this replica does not hold yet. At start that is all of them, so
    // they are fetched in one query; later usually one or two new versions.
    let missing: Vec<(String, u32)> = version_rows
        .iter()
        .filter(|meta| {
            keys.get(&meta.key_id)
                .is_some_and(|k| k.row.state == KEY_ENABLED)
                && old
                    .keys
                    .get(&meta.key_id)
                    .and_then(|k| k.versions.get(&version_num(meta.version)))
                    .and_then(|v| v.kek.as_ref())
                    .is_none()
        })
        .map(|meta| (meta.key_id.clone(), version_num(meta.version)))
        .collect();
    let mut sealed: HashMap<(String, u32), Vec<u8>> = HashMap::new();
    if missing.len() > BULK_LOAD_THRESHOLD {
        for (id, n, bytes) in queries::sealed_keks_of_enabled(conn)? {
            sealed.insert((id, version_num(n)), bytes);
        }
    } else {
        for (id, n) in &missing {
            if let Some(bytes) =
                queries::sealed_kek(conn, id, i32::try_from(*n).unwrap_or(i32::MAX))?
            {
                sealed.insert((id.clone(), *n), bytes);
            }
        }
    }
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
            match unseal(root, &meta.key_id, n, sealed.get(&(meta.key_id.clone(), n))) {
                Ok(kek) => Some(Arc::new(kek)),
                Err(e) if strict => return Err(e),
                Err(e) => {
                    tracing::error!(key = %meta.key_id, version = n, error = %e, "cannot unseal KEK version");
                    None
                }
            }
        };
        let counter = previous.map(|p| p.counter.clone()).unwrap_or_default();
        key.versions.insert(
            n,
            CachedVersion {
                enabled: meta.state == VERSION_ENABLED,
                stored_wraps: meta.wrap_count,
                flushed_at_load: counter.flushed.load(Ordering::Acquire),
                counter,
                kek,
            },
        );
    }
    Ok(Snapshot { keys })
}

fn unseal(
    root: &dyn RootKey,
    key_id: &str,
    version: u32,
    sealed: Option<&Vec<u8>>,
) -> Result<Kek, super::Error> {
    // Missing only if the key was destroyed between the two reads of this refresh.
    let sealed = sealed.ok_or_else(|| {
        super::Error::Internal(format!(
            "keys/{key_id}/versions/{version} vanished during refresh"
        ))
    })?;
    let plain = root.unseal(&kek_aad(key_id, version), sealed)?;
    Kek::from_slice(&plain).ok_or_else(|| {
        super::Error::Internal(format!(
            "sealed KEK of keys/{key_id}/versions/{version} has the wrong length"
        ))
    })
}
