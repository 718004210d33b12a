//! Cross-replica wake-ups on PostgreSQL, the SQL side: a trigger (migration
//! `outbox_claims_notify`) sends `NOTIFY outbox_jobs` when a transaction that enqueued or
//! released jobs commits; [`ReplicaWake`] sends the coalesced NOTIFYs after commits that
//! skip the trigger (registrations) and the `tenant_changes` NOTIFYs, whose payload is the
//! tenant whose change feed grew (a tenant id is not personal data); [`Listener`] is the
//! connection that LISTENs on both. `workers::wake` runs the listener thread.

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};

use super::DbConnection;
use crate::ids::TenantId;

/// The channel the trigger notifies.
pub(crate) const CHANNEL: &str = "outbox_jobs";
/// The channel that names, in its payload, a tenant whose change feed grew.
pub(crate) const CHANGES_CHANNEL: &str = "tenant_changes";

/// What a listener heard since it last looked.
#[derive(Debug, Default)]
pub(crate) struct Heard {
    /// Jobs were enqueued or released.
    pub(crate) jobs: bool,
    /// Tenants whose change feed grew (payloads as sent, deduplicated).
    pub(crate) tenants: std::collections::BTreeSet<String>,
}

/// A connection subscribed to [`CHANNEL`] and [`CHANGES_CHANNEL`].
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
        conn.batch_execute(&format!("LISTEN {CHANNEL}; LISTEN {CHANGES_CHANNEL}"))
            .map_err(|e| e.to_string())?;
        Ok(Self { conn })
    }

    /// Reads the notifications that arrived (a read of the local socket buffer, no query).
    /// Err when the connection broke.
    pub(crate) fn drain(&mut self) -> Result<Heard, String> {
        let mut heard = Heard::default();
        for n in self.conn.notifications_iter() {
            let n = n.map_err(|e| e.to_string())?;
            if n.channel == CHANGES_CHANNEL {
                heard.tenants.insert(n.payload);
            } else {
                heard.jobs = true;
            }
        }
        Ok(heard)
    }

    /// Proves the connection alive with a query (a dead peer may not show on a plain read).
    pub(crate) fn ping(&mut self) -> Result<(), String> {
        diesel::sql_query("SELECT 1")
            .execute(&mut self.conn)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Sends, in one tiny transaction that does not wait for its WAL flush, a NOTIFY on
/// [`CHANNEL`] when `jobs` and one on [`CHANGES_CHANNEL`] per tenant (a lost wake-up only
/// means other replicas find the jobs at their next poll, and their watchers the changes at
/// their next heartbeat). One round trip: tenant ids are `[a-z0-9-]` (`TenantId::parse`), so
/// they go into the statement as literals. Nothing to do on SQLite, where one process serves
/// the database.
pub(crate) fn notify_replicas(
    conn: &mut DbConnection,
    jobs: bool,
    tenants: &[TenantId],
) -> diesel::QueryResult<()> {
    match conn {
        DbConnection::Pg(pg) => {
            let mut sql = String::from("BEGIN; SET LOCAL synchronous_commit TO OFF;");
            if jobs {
                sql.push_str(&format!(" SELECT pg_notify('{CHANNEL}', '');"));
            }
            for tenant in tenants {
                sql.push_str(&format!(
                    " SELECT pg_notify('{CHANGES_CHANNEL}', '{}');",
                    tenant.as_str()
                ));
            }
            sql.push_str(" COMMIT");
            pg.batch_execute(&sql)
        }
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// Coalesced cross-replica wake-ups (PostgreSQL): for jobs enqueued without the outbox
/// trigger's NOTIFY, and for change-feed growth. PostgreSQL serialises the commits of
/// notifying transactions on one database-wide lock held through the commit's WAL flush, so
/// a NOTIFY in every registration would cap writes at about one commit per fsync. The
/// one-statement registration insert asks the trigger to stay quiet, and no business
/// transaction notifies of changes; after the commit the caller pokes this
/// ([`super::Store::wake_other_replicas`], [`super::Store::tell_other_replicas_of_changes`]),
/// which sends one [`notify_replicas`] and folds every poke that arrives while it runs, or in
/// the `SPACING` after it, into the next one. This replica's own workers and watchers are
/// woken in-process.
#[derive(Debug, Default)]
pub(crate) struct ReplicaWake {
    state: std::sync::Mutex<WakeState>,
}

#[derive(Debug, Default)]
struct WakeState {
    /// A task is sending (or waiting out `SPACING`).
    running: bool,
    /// Jobs were committed since that task's last NOTIFY.
    jobs: bool,
    /// Tenants whose feed grew since that task's last NOTIFY.
    tenants: std::collections::BTreeSet<TenantId>,
}

impl ReplicaWake {
    /// Least time between two notifications of one replica.
    const SPACING: std::time::Duration = std::time::Duration::from_millis(5);

    /// Makes sure a NOTIFY is sent after this call: of jobs (`tenant` None) or of `tenant`'s
    /// changes.
    pub(crate) fn poke(
        self: &std::sync::Arc<Self>,
        store: &super::Store,
        tenant: Option<&TenantId>,
    ) {
        {
            let mut s = self.lock();
            match tenant {
                None => s.jobs = true,
                Some(t) => {
                    if !s.tenants.contains(t) {
                        s.tenants.insert(t.clone());
                    }
                }
            }
            if s.running {
                return;
            }
            s.running = true;
        }
        let (me, store) = (self.clone(), store.clone());
        tokio::spawn(async move {
            loop {
                let (jobs, tenants) = {
                    let mut s = me.lock();
                    if !s.jobs && s.tenants.is_empty() {
                        s.running = false;
                        return;
                    }
                    (std::mem::take(&mut s.jobs), std::mem::take(&mut s.tenants))
                };
                let tenants: Vec<TenantId> = tenants.into_iter().collect();
                let sent = store
                    .run(move |conn| {
                        notify_replicas(conn, jobs, &tenants).map_err(super::StoreError::from)
                    })
                    .await;
                if let Err(e) = sent {
                    tracing::warn!(error = %e, "could not notify other replicas of new jobs or changes; they find them at their next poll or heartbeat");
                }
                tokio::time::sleep(Self::SPACING).await;
            }
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WakeState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
