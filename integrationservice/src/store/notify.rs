//! Cross-replica wake-ups on PostgreSQL, the SQL side: a trigger (migration
//! `outbox_claims_notify`) sends `NOTIFY outbox_jobs` when a transaction that enqueued or
//! released jobs commits; [`Listener`] is the connection that LISTENs for it, and
//! [`notify_replicas`] the coalesced NOTIFY sent after registrations, whose statement keeps
//! the trigger quiet. `workers::wake` runs the listener thread and the coalescing.

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};

use super::DbConnection;

/// The channel the trigger notifies.
pub(crate) const CHANNEL: &str = "outbox_jobs";

/// A connection subscribed to [`CHANNEL`].
pub(crate) struct Listener {
    conn: PgConnection,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Listener")
    }
}

impl Listener {
    /// Connects to `url` (PostgreSQL) and subscribes.
    pub(crate) fn subscribe(url: &str) -> Result<Self, String> {
        let mut conn = PgConnection::establish(url).map_err(|e| e.to_string())?;
        diesel::sql_query(format!("LISTEN {CHANNEL}"))
            .execute(&mut conn)
            .map_err(|e| e.to_string())?;
        Ok(Self { conn })
    }

    /// Reads the notifications that arrived (a read of the local socket buffer, no query);
    /// true when there was at least one. Err when the connection broke.
    pub(crate) fn drain(&mut self) -> Result<bool, String> {
        let mut any = false;
        for n in self.conn.notifications_iter() {
            n.map_err(|e| e.to_string())?;
            any = true;
        }
        Ok(any)
    }

    /// Proves the connection alive with a query (a dead peer may not show on a plain read).
    pub(crate) fn ping(&mut self) -> Result<(), String> {
        diesel::sql_query("SELECT 1")
            .execute(&mut self.conn)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Sends one NOTIFY on [`CHANNEL`] in its own tiny transaction that does not wait for its WAL
/// flush (a lost wake-up only means other replicas find the jobs at their next poll).
/// Nothing to do on SQLite, where one process serves the database.
pub(crate) fn notify_replicas(conn: &mut DbConnection) -> diesel::QueryResult<()> {
    match conn {
        DbConnection::Pg(pg) => pg.batch_execute(&format!(
            "BEGIN; SET LOCAL synchronous_commit TO OFF; SELECT pg_notify('{CHANNEL}', ''); COMMIT"
        )),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// Coalesced cross-replica wake-up for jobs enqueued without the outbox trigger's NOTIFY
/// (PostgreSQL). PostgreSQL serialises the commits of notifying transactions on one
/// database-wide lock held through the commit's WAL flush, so a NOTIFY in every registration
/// would cap writes at about one commit per fsync. The one-statement registration insert asks
/// the trigger to stay quiet; after its commit the caller pokes this
/// ([`super::Store::wake_other_replicas`]), which sends one [`notify_replicas`] and folds
/// every poke that arrives while it runs, or in the `SPACING` after it, into the next one.
/// This replica's own workers are woken in-process.
#[derive(Debug, Default)]
pub(crate) struct ReplicaWake {
    state: std::sync::Mutex<WakeState>,
}

#[derive(Debug, Default)]
struct WakeState {
    /// A task is sending (or waiting out `SPACING`).
    running: bool,
    /// Jobs were committed since that task's last NOTIFY.
    again: bool,
}

impl ReplicaWake {
    /// Least time between two notifications of one replica.
    const SPACING: std::time::Duration = std::time::Duration::from_millis(5);

    /// Makes sure a NOTIFY is sent after this call.
    pub(crate) fn poke(self: &std::sync::Arc<Self>, store: &super::Store) {
        {
            let mut s = self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if s.running {
                s.again = true;
                return;
            }
            s.running = true;
        }
        let (me, store) = (self.clone(), store.clone());
        tokio::spawn(async move {
            loop {
                let sent = store
                    .run(|conn| notify_replicas(conn).map_err(super::StoreError::from))
                    .await;
                if let Err(e) = sent {
                    tracing::warn!(error = %e, "could not notify other replicas of new jobs; they find them at their next poll");
                }
                tokio::time::sleep(Self::SPACING).await;
                let mut s = me
                    .state
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if s.again {
                    s.again = false;
                } else {
                    s.running = false;
                    return;
                }
            }
        });
    }
}
