//! Changes to existing keys: minimum decryption version, enabling and disabling versions,
//! scheduling and cancelling deletion. Each is a compare-and-set write retried on conflict,
//! followed by a refresh of this replica's snapshot.

use std::time::Duration;

use super::{
    Error, Key, KeyManager, KeyVersion, KeyVersionRef, KeyVersionState, Result,
    admin::{CAS_ATTEMPTS, key_view, load_key, require_enabled, to_i32},
    rows::{duration_micros, now_micros, version_code, version_from_meta, version_num},
};
use crate::store::{
    models::{KEY_DELETE_SCHEDULED, KEY_ENABLED, KeyRow, VERSION_DISABLED, VERSION_ENABLED},
    queries,
};

impl KeyManager {
    /// Applies `change` to the key row with compare-and-set, retrying on conflicts.
    async fn update_key<F>(&self, id: &str, change: F) -> Result<Key>
    where
        F: Fn(&mut KeyRow) -> Result<()> + Send + Sync + 'static,
    {
        let change = std::sync::Arc::new(change);
        for _ in 0..CAS_ATTEMPTS {
            let id = id.to_owned();
            let change = change.clone();
            let saved = self
                .db(move |conn| {
                    let mut row = load_key(conn, &id)?;
                    change(&mut row)?;
                    row.updated_at = now_micros();
                    if !queries::save_key(conn, &row)? {
                        return Ok(None);
                    }
                    row.generation += 1;
                    Ok(Some(key_view(conn, &row)?))
                })
                .await?;
            if let Some(key) = saved {
                self.announce_change().await?;
                return Ok(key);
            }
        }
        Err(Error::Aborted(format!("keys/{id}")))
    }

    /// Sets the lowest version that may unwrap (1 ..= primary). Unless `force`, refused with
    /// `FailedPrecondition` while a version below `version` has unwrapped a data key within
    /// `min_version_use_window` (as flushed by every replica; this one flushes first): data
    /// keys wrapped under it are still in use and would stop opening.
    pub async fn set_min_decryption_version(
        &self,
        id: &str,
        version: u32,
        force: bool,
    ) -> Result<Key> {
        if !force {
            self.refresh().await?;
            let key_id = id.to_owned();
            let used = self
                .db(move |conn| Ok(queries::last_unwraps(conn, &key_id)?))
                .await?;
            let window = i64::try_from(self.inner.settings.min_version_use_window.as_micros())
                .unwrap_or(i64::MAX);
            let since = now_micros().saturating_sub(window);
            let mut recent: Vec<i32> = used
                .into_iter()
                .filter(|(v, at)| version_num(*v) < version && *at >= since)
                .map(|(v, _)| v)
                .collect();
            recent.sort_unstable();
            if !recent.is_empty() {
                let list = recent
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Error::FailedPrecondition(format!(
                    "keys/{id}: version(s) {list} below the requested minimum unwrapped data keys \
                     within the last {}s, so keys wrapped under them are still in use; rewrap \
                     them to the primary and wait, or set force",
                    self.inner.settings.min_version_use_window.as_secs()
                )));
            }
        }
        self.update_key(id, move |row| {
            require_enabled(row)?;
            if version == 0 || version > version_num(row.primary_version) {
                return Err(Error::invalid(
                    "min_decryption_version",
                    format!("between 1 and the primary version {}", row.primary_version),
                ));
            }
            row.min_decryption_version = to_i32(version);
            Ok(())
        })
        .await
    }

    /// Schedules destruction after `waiting_period` (default 30 days, at least the minimum).
    pub async fn schedule_key_deletion(
        &self,
        id: &str,
        waiting_period: Option<Duration>,
    ) -> Result<Key> {
        let settings = &self.inner.settings;
        let wait = waiting_period.unwrap_or(settings.default_deletion_waiting_period);
        if wait < settings.min_deletion_waiting_period {
            return Err(Error::invalid(
                "waiting_period",
                format!("at least {:?}", settings.min_deletion_waiting_period),
            ));
        }
        let wait = duration_micros(wait);
        self.update_key(id, move |row| {
            require_enabled(row)?;
            row.state = KEY_DELETE_SCHEDULED;
            row.delete_at = Some(now_micros().saturating_add(wait));
            Ok(())
        })
        .await
    }

    /// Cancels a scheduled deletion whose waiting period has not ended.
    pub async fn cancel_key_deletion(&self, id: &str) -> Result<Key> {
        self.update_key(id, |row| {
            let pending = row.state == KEY_DELETE_SCHEDULED
                && row.delete_at.is_some_and(|at| at > now_micros());
            if !pending {
                return Err(Error::FailedPrecondition(format!(
                    "keys/{} has no deletion pending",
                    row.id
                )));
            }
            row.state = KEY_ENABLED;
            row.delete_at = None;
            Ok(())
        })
        .await
    }

    /// Enables or disables one version. The primary cannot be disabled.
    pub async fn update_key_version(
        &self,
        version: &KeyVersionRef,
        state: KeyVersionState,
    ) -> Result<KeyVersion> {
        let target = version.clone();
        for _ in 0..CAS_ATTEMPTS {
            let target = target.clone();
            let done = self
                .db(move |conn| {
                    let mut row = load_key(conn, &target.key_id)?;
                    require_enabled(&row)?;
                    let versions = queries::versions_of(conn, &target.key_id)?;
                    let mut meta = versions
                        .into_iter()
                        .find(|v| version_num(v.version) == target.version)
                        .ok_or_else(|| Error::NotFound(target.name()))?;
                    if state == KeyVersionState::Disabled && meta.version == row.primary_version {
                        return Err(Error::FailedPrecondition(format!(
                            "{} is the primary version; rotate before disabling it",
                            target.name()
                        )));
                    }
                    row.updated_at = now_micros();
                    if !queries::set_version_state(conn, &row, meta.version, version_code(state))? {
                        return Ok(None);
                    }
                    meta.state = match state {
                        KeyVersionState::Enabled => VERSION_ENABLED,
                        KeyVersionState::Disabled => VERSION_DISABLED,
                    };
                    Ok(Some(version_from_meta(&meta)))
                })
                .await?;
            if let Some(v) = done {
                self.announce_change().await?;
                return Ok(v);
            }
        }
        Err(Error::Aborted(version.name()))
    }
}
