//! Key management: the [`KeyManager`] the gRPC edge calls for every operation.
//!
//! # Interface (for the edge)
//! - [`KeyManager::open`]`(store, root, settings).await -> Result<KeyManager>`: loads and
//!   unseals every enabled KEK (fails if the root key is wrong), starts the background
//!   refresh (and maintenance, if `settings.maintenance_interval` is set). Cheap to clone.
//! - Data keys (key ids are the `{key}` of `keys/{key}`; use [`parse_key_name`]):
//!   `generate_data_key(key_id, aad) -> GeneratedDataKey`,
//!   `wrap(key_id, plaintext, aad) -> WrappedDataKey`,
//!   `unwrap(wrapped, aad) -> (Zeroizing<Vec<u8>>, KeyVersionRef)`,
//!   `rewrap(wrapped, aad) -> WrappedDataKey` (plaintext never leaves the service),
//!   `batch_generate_data_keys(&[GenerateItem])`, `batch_unwrap(&[UnwrapItem])`,
//!   `batch_rewrap(&[UnwrapItem])` -> `Result<Vec<Result<_>>>` (outer error: batch too large
//!   or empty). Authorise first with [`crate::crypto::WrappedKey::parse_header`].
//! - Admin: `create_key(NewKey) -> Key`, `get_key(id) -> (Key, Vec<KeyVersion>)`,
//!   `list_keys(page_size, page_token) -> KeyPage`, `rotate_key(id) -> (Key, KeyVersion)`,
//!   `update_key_version(&KeyVersionRef, KeyVersionState) -> KeyVersion`,
//!   `set_min_decryption_version(id, n, force) -> Key`,
//!   `schedule_key_deletion(id, Option<Duration>) -> Key`, `cancel_key_deletion(id) -> Key`.
//! - Upkeep: `rotate_due_keys() -> Vec<KeyVersionRef>`, `purge_deleted_keys() -> usize`,
//!   `maintain()` (both), `refresh()` (reload the snapshot now).
//! - Errors: [`Error`] (see its doc for the gRPC code of each variant).
//!
//! Replica agreement: every replica reloads its snapshot every `refresh_interval` (default
//! 2 s), so a change through one replica holds on all within that bound; on PostgreSQL a
//! `LISTEN`/`NOTIFY` channel (see [`crate::store::notify`]) usually makes it about 100 ms.

mod admin;
mod cache;
mod data;
mod error;
mod lifecycle;
mod maintenance;
mod rows;
mod types;

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

pub use error::{Error, Result};
pub use types::{
    GenerateItem, GeneratedDataKey, Key, KeyPage, KeyPurpose, KeyState, KeyVersion, KeyVersionRef,
    KeyVersionState, NewKey, RotationPolicy, UnwrapItem, WrappedDataKey, kek_aad, parse_key_name,
    parse_version_name,
};

use crate::{rootkey::RootKey, store::Store};
use cache::Snapshot;

/// Hard ceiling of `max_wraps_per_version` (2^30), far below the 2^32 random-nonce bound of
/// AES-GCM.
pub const MAX_WRAPS_PER_VERSION_LIMIT: u64 = 1 << 30;

/// Tunables of the domain layer. `Default` is the production setting.
#[derive(Debug, Clone)]
pub struct DomainSettings {
    /// How often each replica reloads keys from the database (the agreement bound).
    pub refresh_interval: Duration,
    /// How often the background task rotates due keys and purges deleted ones; `None`
    /// leaves it to the caller (`maintain()`).
    pub maintenance_interval: Option<Duration>,
    /// Waiting period of `schedule_key_deletion` when none is given.
    pub default_deletion_waiting_period: Duration,
    /// Shortest waiting period accepted.
    pub min_deletion_waiting_period: Duration,
    /// Shortest `rotation_period` accepted in a rotation policy.
    pub min_rotation_period: Duration,
    /// Wrap limit of a version when the key's policy says 0.
    pub default_max_wraps_per_version: u64,
    /// Most items in one batch call.
    pub max_batch_items: usize,
    /// Longest data key accepted by `wrap`.
    pub max_plaintext_len: usize,
    /// Longest associated data accepted.
    pub max_associated_data_len: usize,
    /// `set_min_decryption_version` refuses (unless forced) to raise the minimum above a
    /// version that unwrapped a data key within this window.
    pub min_version_use_window: Duration,
}

impl Default for DomainSettings {
    fn default() -> Self {
        const DAY: Duration = Duration::from_secs(24 * 3600);
        Self {
            refresh_interval: Duration::from_secs(2),
            maintenance_interval: Some(Duration::from_secs(60)),
            default_deletion_waiting_period: 30 * DAY,
            min_deletion_waiting_period: DAY,
            min_rotation_period: DAY,
            default_max_wraps_per_version: 10_000_000,
            max_batch_items: 100,
            max_plaintext_len: 1024,
            max_associated_data_len: 4096,
            min_version_use_window: DAY,
        }
    }
}

/// Owns keys: data-key operations from an in-memory snapshot, admin operations through the
/// database. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct KeyManager {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    root: Arc<dyn RootKey>,
    settings: DomainSettings,
    snapshot: RwLock<Arc<Snapshot>>,
    // One refresh at a time, so pending wrap counts are flushed exactly once.
    refresh_lock: tokio::sync::Mutex<()>,
    // Woken by the PostgreSQL change listener; the background task refreshes at once.
    changed: Arc<tokio::sync::Notify>,
    // Stops the listener thread when the last clone of the manager drops.
    _listener: Option<crate::store::notify::Listener>,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManager")
            .field("root", &self.inner.root.describe())
            .field("backend", self.inner.store.backend())
            .finish_non_exhaustive()
    }
}

impl KeyManager {
    /// Loads every key, unseals enabled KEKs (an unseal failure is an error: the root key is
    /// probably wrong) and starts the background refresh on the current tokio runtime.
    pub async fn open(
        store: Store,
        root: Arc<dyn RootKey>,
        settings: DomainSettings,
    ) -> Result<Self> {
        // A zero interval would spin the background task.
        let settings = DomainSettings {
            refresh_interval: settings.refresh_interval.max(Duration::from_millis(10)),
            ..settings
        };
        let snapshot = {
            let root = root.clone();
            store
                .run(move |conn| cache::load(conn, &*root, &Snapshot::default(), true))
                .await?
        };
        tracing::info!(root = %root.describe(), keys = snapshot.keys.len(), "key manager open");
        let changed = Arc::new(tokio::sync::Notify::new());
        let wake = changed.clone();
        let listener = crate::store::notify::listen(store.backend(), move || wake.notify_one());
        let manager = Self {
            inner: Arc::new(Inner {
                store,
                root,
                settings,
                snapshot: RwLock::new(Arc::new(snapshot)),
                refresh_lock: tokio::sync::Mutex::new(()),
                changed,
                _listener: listener,
            }),
        };
        maintenance::spawn_background(&manager);
        Ok(manager)
    }

    /// The settings in force.
    pub fn settings(&self) -> &DomainSettings {
        &self.inner.settings
    }

    /// Runs `f` on the current snapshot under its read lock (keep `f` short: a refresh waits).
    fn with_snapshot<T>(&self, f: impl FnOnce(&Snapshot) -> T) -> T {
        f(&self
            .inner
            .snapshot
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.inner
            .snapshot
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// After a write: tells other replicas (NOTIFY on PostgreSQL) and refreshes this one.
    pub(crate) async fn announce_change(&self) -> Result<()> {
        let announced = self.inner.store.run(crate::store::notify::announce).await;
        if let Err(e) = announced {
            // Other replicas still pick the change up at their next periodic refresh.
            tracing::warn!(error = %e, "cannot announce a key change");
        }
        self.refresh().await
    }

    /// Writes when versions last unwrapped, as far as the database does not know yet; on
    /// failure they stay pending for the next refresh.
    async fn flush_unwraps_seen(&self, snapshot: &Snapshot) -> Result<()> {
        let pending = snapshot.pending_unwraps();
        if pending.is_empty() {
            return Ok(());
        }
        let rows: Vec<(String, i32, i64)> = pending
            .iter()
            .map(|p| (p.key_id.clone(), p.version, p.at))
            .collect();
        self.inner
            .store
            .run(move |conn| crate::store::queries::record_unwraps(conn, &rows))
            .await?;
        pending.iter().for_each(cache::PendingUnwrap::mark_flushed);
        Ok(())
    }

    /// Flushes this replica's wrap counts and reloads the snapshot from the database now.
    pub async fn refresh(&self) -> Result<()> {
        let _one_at_a_time = self.inner.refresh_lock.lock().await;
        let old = self.snapshot();
        // Flushed before loading, so the new snapshot's stored counts include them. Counters
        // are marked flushed only after the write commits; a failed write loses nothing.
        let pending = old.pending();
        if !pending.is_empty() {
            let counts: Vec<(String, i32, i64)> = pending
                .iter()
                .map(|p| (p.key_id.clone(), p.version, p.count))
                .collect();
            self.inner
                .store
                .run(move |conn| crate::store::queries::add_wrap_counts(conn, &counts))
                .await?;
            pending.iter().for_each(cache::PendingWraps::mark_flushed);
        }
        self.flush_unwraps_seen(&old).await?;
        let root = self.inner.root.clone();
        let previous = old.clone();
        let new = self
            .inner
            .store
            .run(move |conn| cache::load(conn, &*root, &previous, false))
            .await?;
        *self
            .inner
            .snapshot
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(new);
        Ok(())
    }
}
