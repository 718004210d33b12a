//! Storage of the integration service, the only code that speaks SQL: one module per
//! aggregate (registrations, webinars, providers, metrics, outbox, changes, worker leases,
//! suppressions, tenant keys and retention, and the
//! rows a job run reads), each hiding PostgreSQL/SQLite differences behind its functions, over the pool,
//! pragmas and blocking-pool helpers shared with the key service (`servicekit::db`), with this
//! service's embedded migrations.

/// Multi-row INSERT, which diesel's multi-backend cannot express: the same statement is built
/// for the concrete backend of the connection.
macro_rules! insert_batch {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            $crate::store::DbConnection::Pg(c) => {
                diesel::insert_into($table).values($rows).execute(c)
            }
            $crate::store::DbConnection::Sqlite(c) => {
                diesel::insert_into($table).values($rows).execute(c)
            }
        }
    };
}

pub mod changes;
pub(crate) mod erasure_requests;
pub mod interactions;
pub(crate) mod job_inputs;
pub mod leases;
pub mod metrics;
pub(crate) mod minimisation;
pub mod models;
pub(crate) mod notify;
pub mod outbox;
pub mod providers;
pub mod registrations;
pub mod retention;
/// The tables, as diesel's `table!` generates them (undocumented items; the columns are
/// described by the migrations and the data model in `docs/integrationservice-engine.md`).
#[allow(missing_docs)]
pub mod schema;
pub(crate) mod sealing;
pub mod status;
pub(crate) mod suppressions;
pub mod tenant_keys;
pub mod tenant_purge;
pub(crate) mod webinars;

pub(crate) use status::JobState;

use diesel::Connection;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use servicekit::db::{Pool, PoolOptions};

pub(crate) use servicekit::db::{Backend, DbConnection, StoreError};

const PG_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("../migrations/integrationservice/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("../migrations/integrationservice/sqlite");

/// The pool and the backend it talks to. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    replica_wake: std::sync::Arc<notify::ReplicaWake>,
}

impl Store {
    /// Opens a pool (one connection on SQLite: see `servicekit::db`).
    pub fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = Pool::connect(
            url,
            PoolOptions {
                max_connections,
                // No `SELECT 1` before every checkout: it was a round trip on every call. A
                // connection that died fails its next query, diesel marks it broken and the
                // pool drops it on return; the caller gets UNAVAILABLE and retries.
                test_on_check_out: false,
                sync_every_commit: false,
            },
        )?;
        Ok(Self {
            pool,
            replica_wake: std::sync::Arc::default(),
        })
    }

    /// Makes sure other replicas hear, soon, of jobs committed without the outbox trigger's
    /// NOTIFY (coalesced: see [`notify::ReplicaWake`]). PostgreSQL only: one process serves
    /// a SQLite database.
    pub fn wake_other_replicas(&self) {
        if !self.backend().is_sqlite() {
            self.replica_wake.poke(self, None);
        }
    }

    /// Makes sure other replicas hear, soon, that `tenant`'s change feed grew, so they wake
    /// its watchers (coalesced with the above). PostgreSQL only.
    pub fn tell_other_replicas_of_changes(&self, tenant: &crate::ids::TenantId) {
        if !self.backend().is_sqlite() {
            self.replica_wake.poke(self, Some(tenant));
        }
    }

    /// The backend behind this store.
    pub fn backend(&self) -> &Backend {
        self.pool.backend()
    }

    /// Applies every pending embedded migration (blocking; call at start or from `migrate`).
    pub fn migrate_blocking(&self) -> Result<(), StoreError> {
        self.pool.migrate(PG_MIGRATIONS, SQLITE_MIGRATIONS, None)
    }

    /// Connections open and idle in the pool (for the pool usage gauge).
    pub fn pool_state(&self) -> diesel::r2d2::State {
        self.pool.state()
    }

    /// Applies pending migrations from async code.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.migrate_blocking())
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }

    /// Runs `f` with a pooled connection on the blocking pool (the caller's trace follows).
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.pool.run(f).await
    }

    /// True when the database answers a query (readiness).
    pub async fn ping(&self) -> bool {
        self.run(|conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query("SELECT 1")
                .execute(conn)
                .map(|_| ())
                .map_err(StoreError::from)
        })
        .await
        .is_ok()
    }

    /// Runs `f` inside one database transaction on the blocking pool: all of it commits or none.
    pub async fn transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    {
        self.run(move |conn| conn.transaction(f)).await
    }
}

/// Milliseconds since the Unix epoch, the time unit of every column.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
