//! Storage of the integration service: one diesel query layer over PostgreSQL (production) and
//! SQLite (embedded default), an r2d2 pool, embedded migrations, and helpers that run blocking
//! diesel work on tokio's blocking pool so the async runtime never stalls.

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
pub mod metrics;
pub mod models;
pub mod outbox;
pub mod providers;
pub mod registrations;
pub mod schema;
pub mod webinars;

use std::time::Duration;

use diesel::{
    Connection, RunQueryDsl,
    pg::PgConnection,
    r2d2::{self, ManageConnection, R2D2Connection},
    sqlite::SqliteConnection,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const PG_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("../migrations/integrationservice/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("../migrations/integrationservice/sqlite");

/// A connection to either backend; queries written once against the portable schema run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// PostgreSQL (production; what scales out).
    Pg(PgConnection),
    /// SQLite (embedded default).
    Sqlite(SqliteConnection),
}

impl std::fmt::Debug for DbConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pg(_) => "DbConnection::Pg",
            Self::Sqlite(_) => "DbConnection::Sqlite",
        })
    }
}

/// Which database a URL points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A `postgres://` or `postgresql://` URL.
    Postgres(String),
    /// A SQLite path (an optional `sqlite://` prefix is removed).
    Sqlite(String),
}

impl Backend {
    /// Reads the team convention: `postgres://`/`postgresql://` is PostgreSQL, anything else SQLite.
    pub fn from_url(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::Postgres(url.to_owned())
        } else {
            Self::Sqlite(url.strip_prefix("sqlite://").unwrap_or(url).to_owned())
        }
    }

    /// True for SQLite, where there is a single writer and a single job consumer.
    pub fn is_sqlite(&self) -> bool {
        matches!(self, Self::Sqlite(_))
    }
}

/// Errors of the storage layer. Messages never carry row contents.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had in time (pool exhausted or database down).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    /// Migrations could not be applied.
    #[error("migration failed: {0}")]
    Migration(String),
}

impl From<r2d2::PoolError> for StoreError {
    fn from(e: r2d2::PoolError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// Opens connections of the right variant and prepares SQLite for concurrent use.
#[derive(Debug)]
struct Manager {
    backend: Backend,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.backend {
            Backend::Postgres(url) => PgConnection::establish(url)
                .map(DbConnection::Pg)
                .map_err(r2d2::Error::ConnectionError),
            Backend::Sqlite(path) => {
                let mut conn =
                    SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers run beside the writer; busy_timeout waits instead of failing.
                diesel::sql_query("PRAGMA busy_timeout = 15000")
                    .execute(&mut conn)
                    .map_err(r2d2::Error::QueryError)?;
                diesel::sql_query("PRAGMA journal_mode = WAL")
                    .execute(&mut conn)
                    .map_err(r2d2::Error::QueryError)?;
                diesel::sql_query("PRAGMA synchronous = NORMAL")
                    .execute(&mut conn)
                    .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// The pool and the backend it talks to. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
}

impl Store {
    /// Opens a pool. On SQLite the pool has one connection: SQLite has one writer anyway, and a
    /// single connection avoids "database is locked" when deferred transactions upgrade.
    pub fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let backend = Backend::from_url(url);
        let size = if backend.is_sqlite() {
            1
        } else {
            max_connections.max(2)
        };
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(1))
            // No `SELECT 1` before every checkout: it was a round trip on every call. A
            // connection that died fails its next query, diesel marks it broken and the pool
            // drops it on return (`has_broken`); the caller gets UNAVAILABLE and retries.
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(10))
            .build(Manager {
                backend: backend.clone(),
            })
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Self { pool, backend })
    }

    /// The backend behind this store.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Applies every pending embedded migration (blocking; call at start or from `migrate`).
    pub fn migrate_blocking(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.get()?;
        let result = match &mut *conn {
            DbConnection::Pg(c) => c.run_pending_migrations(PG_MIGRATIONS).map(|_| ()),
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        };
        result.map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// Connections open and idle in the pool (for the pool usage gauge).
    pub fn pool_state(&self) -> r2d2::State {
        self.pool.state()
    }

    /// Applies pending migrations from async code.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.migrate_blocking())
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        // The caller's trace follows the work onto the blocking thread, so an enqueued job
        // records the request's `traceparent` and DB spans join it: the `tracing` span, and
        // the OpenTelemetry context a gRPC call runs under (its server span, or the
        // non-recording context of a call the sampler dropped, is no `tracing` span; without
        // it the job would start a trace of its own and be sampled again).
        let span = tracing::Span::current();
        let context = opentelemetry::Context::current();
        tokio::task::spawn_blocking(move || {
            let _attached = context.attach();
            let _entered = span.enter();
            let mut conn = pool.get().map_err(StoreError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| E::from(StoreError::Unavailable(e.to_string())))?
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
