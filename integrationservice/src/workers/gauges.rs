//! Refreshes the store gauges (`telemetry::StoreGauges`: outbox depth and age per state,
//! pool usage, each tenant's credentials status, credentials per key version) from the database every few seconds until shutdown.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::{JobState, Store, StoreError, now_ms, outbox, providers};
use crate::telemetry::StoreGauges;

/// Registers the gauges and refreshes them every `every` until `shutdown`.
pub(crate) fn spawn_store_gauges(store: Store, every: Duration, shutdown: CancellationToken) {
    let gauges = StoreGauges::register();
    tokio::spawn(async move {
        loop {
            let now = now_ms();
            let counted = store
                .run(|conn| outbox::counts_by_state(conn).map_err(StoreError::from))
                .await;
            if let Ok(rows) = counted {
                // Every known state is reported, 0 when empty, so dashboards see the drop.
                let mut states: Vec<(String, i64, i64)> = JobState::ALL
                    .iter()
                    .map(|state| (state.as_str().to_owned(), 0, 0))
                    .collect();
                for (state, n, oldest) in rows {
                    let age = now - oldest.unwrap_or(now);
                    match states.iter_mut().find(|(known, _, _)| *known == state) {
                        Some(entry) => *entry = (state, n, age),
                        None => states.push((state, n, age)),
                    }
                }
                let pool = store.pool_state();
                gauges.update(states, pool.connections, pool.idle_connections);
            }
            if let Ok(statuses) = store
                .run(|conn| providers::statuses(conn).map_err(StoreError::from))
                .await
            {
                gauges.update_credentials(statuses);
            }
            if let Ok(versions) = store
                .run(|conn| providers::count_by_key_version(conn).map_err(StoreError::from))
                .await
            {
                gauges.update_key_versions(versions);
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(every) => {}
            }
        }
    });
}
