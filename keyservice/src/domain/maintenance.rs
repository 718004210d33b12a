//! Upkeep: automatic rotation (by age and by wrap count), purging keys whose deletion
//! waiting period has ended, and the background task that refreshes the snapshot.

use std::{sync::Arc, time::Instant};

use super::{KeyManager, KeyVersionRef, Result, rows::now_micros};
use crate::store::{
    models::{KEY_DELETE_SCHEDULED, KEY_ENABLED},
    queries,
};

impl KeyManager {
    /// Rotates every enabled key whose primary version is older than its rotation period or
    /// has reached its wrap limit. Safe to run on every replica at once: each due primary is
    /// rotated exactly once (compare-and-set). Returns the new versions.
    pub async fn rotate_due_keys(&self) -> Result<Vec<KeyVersionRef>> {
        // Flush local wrap counts first so the decision sees them.
        self.refresh().await?;
        let (rows, versions) = self.inner.store.run(queries::load_all).await?;
        let now = now_micros();
        let mut due = Vec::new();
        for row in rows.iter().filter(|r| r.state == KEY_ENABLED) {
            let Some(primary) = versions
                .iter()
                .find(|v| v.key_id == row.id && v.version == row.primary_version)
            else {
                continue;
            };
            let aged = row.rotation_period_secs.is_some_and(|secs| {
                primary
                    .created_at
                    .saturating_add(secs.saturating_mul(1_000_000))
                    <= now
            });
            let worn = u64::try_from(primary.wrap_count).unwrap_or(0)
                >= self.wrap_limit(row.max_wraps_per_version);
            if aged || worn {
                due.push((
                    row.id.clone(),
                    super::rows::version_num(row.primary_version),
                ));
            }
        }
        let mut rotated = Vec::new();
        for (id, primary) in due {
            match self.rotate_if_primary(&id, primary).await {
                Ok(Some(new)) => {
                    tracing::info!(key = %id, version = new.version, "rotated by policy");
                    rotated.push(new);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(key = %id, error = %e, "policy rotation failed"),
            }
        }
        if !rotated.is_empty() {
            self.announce_change().await?;
        }
        Ok(rotated)
    }

    /// Destroys every key whose deletion waiting period has ended: the state becomes
    /// destroyed and every sealed KEK of it is erased. Returns how many were destroyed.
    pub async fn purge_deleted_keys(&self) -> Result<usize> {
        let now = now_micros();
        let purged = self
            .inner
            .store
            .run(move |conn| {
                let (rows, _) = queries::load_all(conn)?;
                let mut purged = 0;
                for row in rows.iter().filter(|r| {
                    r.state == KEY_DELETE_SCHEDULED && r.delete_at.is_some_and(|at| at <= now)
                }) {
                    let mut row = row.clone();
                    row.updated_at = now;
                    if queries::destroy(conn, &row)? {
                        tracing::warn!(key = %row.id, "key destroyed after its deletion waiting period");
                        purged += 1;
                    }
                }
                Ok::<_, super::Error>(purged)
            })
            .await?;
        if purged > 0 {
            self.announce_change().await?;
        }
        Ok(purged)
    }

    /// Runs [`KeyManager::rotate_due_keys`] and [`KeyManager::purge_deleted_keys`].
    pub async fn maintain(&self) -> Result<()> {
        self.purge_deleted_keys().await?;
        self.rotate_due_keys().await?;
        Ok(())
    }
}

/// Starts the refresh (and optional maintenance) loop. It holds only a weak reference, so
/// it ends when the last `KeyManager` clone is dropped. It refreshes every refresh interval,
/// or at once when the PostgreSQL listener reports a change.
pub(super) fn spawn_background(manager: &KeyManager) {
    let weak = Arc::downgrade(&manager.inner);
    let changed = manager.inner.changed.clone();
    let refresh = manager.inner.settings.refresh_interval;
    let maintenance = manager.inner.settings.maintenance_interval;
    tokio::spawn(async move {
        let mut last_maintenance = Instant::now();
        loop {
            tokio::select! {
                () = tokio::time::sleep(refresh) => {}
                () = changed.notified() => {}
            }
            let Some(inner) = weak.upgrade() else { break };
            let manager = KeyManager { inner };
            if let Err(e) = manager.refresh().await {
                tracing::warn!(error = %e, "key snapshot refresh failed; keeping the previous one");
            }
            if let Some(every) = maintenance
                && last_maintenance.elapsed() >= every
            {
                last_maintenance = Instant::now();
                if let Err(e) = manager.maintain().await {
                    tracing::warn!(error = %e, "key maintenance failed");
                }
            }
        }
    });
}
