//! The database plumbing both services share: which backend a URL names (its `Debug` hides
//! the PostgreSQL password), one diesel connection type over PostgreSQL and SQLite, an r2d2
//! pool that opens connections with one set of SQLite pragmas, embedded migrations (under an
//! advisory lock on PostgreSQL, so replicas starting together apply each once), and running
//! blocking diesel work on tokio's blocking pool so the async runtime never stalls. Each
//! service's `store` module wraps [`Pool`] with its own migrations and queries.

use std::time::Duration;

use diesel::{
    Connection, RunQueryDsl,
    pg::PgConnection,
    r2d2::{self, ManageConnection, R2D2Connection},
    sqlite::SqliteConnection,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

pub use connection::{DbConnection, MultiBackend};

/// diesel's `MultiConnection` derive generates public items (the backend, its bind
/// collector, its query builder) without docs; they live here so `missing_docs` holds for
/// everything written by hand.
#[allow(missing_docs)]
mod connection {
    use diesel::{pg::PgConnection, sqlite::SqliteConnection};

    /// A connection to either backend; queries written once against a portable schema run on
    /// both.
    #[derive(diesel::MultiConnection)]
    pub enum DbConnection {
        /// PostgreSQL (production; what scales out).
        Pg(PgConnection),
        /// SQLite (embedded default; one process per database).
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
}

/// Which database a URL names: `postgres://`/`postgresql://` is PostgreSQL, anything else a
/// SQLite path (an optional `sqlite://` prefix is removed). `Debug` hides credentials.
#[derive(Clone, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL URL.
    Postgres(String),
    /// SQLite path.
    Sqlite(String),
}

impl Backend {
    /// Classifies `url`.
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

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Drop user, password and query (which may carry a password) from the URL.
            Self::Postgres(url) => {
                let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
                let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
                let host = host.split('?').next().unwrap_or_default();
                write!(f, "Postgres(postgres://{host})")
            }
            Self::Sqlite(path) => write!(f, "Sqlite({path})"),
        }
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

impl StoreError {
    /// Whether the database was out of reach rather than the query wrong: no connection in
    /// time, or the connection lost under the call (see [`connection_lost`]). Callers answer
    /// these UNAVAILABLE, which clients retry.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Query(e) => connection_lost(e),
            Self::Migration(_) => false,
        }
    }
}

/// Whether `e` says the database connection was lost rather than that the query was wrong:
/// closed by the server (a restart's "terminating connection due to administrator command"
/// leaves the connection closed), or the command could not even be sent. A transaction whose
/// commit failed that way counts too (diesel reports it apart), and so does the broken state a
/// rollback that could not reach the server leaves behind; the pool drops such a connection,
/// so a retry gets a fresh one.
pub fn connection_lost(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind as K, Error as D};
    match e {
        D::DatabaseError(K::ClosedConnection | K::UnableToSendCommand, _) => true,
        D::RollbackErrorOnCommit { commit_error, .. } => connection_lost(commit_error),
        D::BrokenTransactionManager => true,
        _ => false,
    }
}

impl From<r2d2::PoolError> for StoreError {
    fn from(e: r2d2::PoolError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// The pragmas every SQLite connection starts with: WAL lets readers run beside the writer,
/// `busy_timeout` waits for the writer instead of failing, and foreign keys are enforced.
/// `synchronous` follows [`PoolOptions::sync_every_commit`].
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA busy_timeout = 15000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA foreign_keys = ON",
];

/// How a service's pool differs from the defaults.
#[derive(Clone, Copy, Debug)]
pub struct PoolOptions {
    /// Most PostgreSQL connections (at least 2; SQLite always gets one: it has one writer
    /// anyway, and one connection avoids "database is locked" when a transaction upgrades).
    pub max_connections: u32,
    /// Check each connection with a query before handing it out. Without it a connection that
    /// died fails its next query, diesel marks it broken and the pool drops it on return.
    pub test_on_check_out: bool,
    /// SQLite `synchronous = FULL`: every commit survives a power loss. Off, it is `NORMAL`,
    /// durable with WAL except for the last commits on power loss, which the integration
    /// service's outbox tolerates (a lost write was never acknowledged to a replica) but the
    /// key service does not (a KEK version that already wrapped data keys must never vanish).
    pub sync_every_commit: bool,
}

/// Opens connections of the right variant, with the pragmas on SQLite.
#[derive(Debug)]
pub struct Manager {
    backend: Backend,
    synchronous: &'static str,
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
                for pragma in SQLITE_PRAGMAS.iter().chain([&self.synchronous]) {
                    diesel::sql_query(*pragma)
                        .execute(&mut conn)
                        .map_err(r2d2::Error::QueryError)?;
                }
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

/// A connection pool and the backend it talks to. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Pool {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
}

impl Pool {
    /// Opens a pool on `url`.
    pub fn connect(url: &str, options: PoolOptions) -> Result<Self, StoreError> {
        let backend = Backend::from_url(url);
        let size = if backend.is_sqlite() {
            1
        } else {
            options.max_connections.max(2)
        };
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(1))
            .test_on_check_out(options.test_on_check_out)
            .connection_timeout(Duration::from_secs(10))
            .build(Manager {
                backend: backend.clone(),
                synchronous: if options.sync_every_commit {
                    "PRAGMA synchronous = FULL"
                } else {
                    "PRAGMA synchronous = NORMAL"
                },
            })
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Self { pool, backend })
    }

    /// The backend behind this pool.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Connections open and idle in the pool (for a pool usage gauge).
    pub fn state(&self) -> r2d2::State {
        self.pool.state()
    }

    /// Applies every pending migration of the connection's backend (blocking). On PostgreSQL
    /// with `lock`, under that session advisory lock: replicas starting together must not
    /// apply the same migration twice.
    pub fn migrate(
        &self,
        postgres: EmbeddedMigrations,
        sqlite: EmbeddedMigrations,
        lock: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.get()?;
        let result = match &mut *conn {
            DbConnection::Pg(c) => {
                if let Some(lock) = lock {
                    diesel::sql_query(format!("SELECT pg_advisory_lock({lock})")).execute(c)?;
                }
                let applied = c.run_pending_migrations(postgres).map(|_| ());
                if let Some(lock) = lock {
                    diesel::sql_query(format!("SELECT pg_advisory_unlock({lock})")).execute(c)?;
                }
                applied
            }
            DbConnection::Sqlite(c) => c.run_pending_migrations(sqlite).map(|_| ()),
        };
        result.map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// Runs `f` with a pooled connection on the current thread (for CLIs, tests and work
    /// already on a blocking thread).
    pub fn run_blocking<T, E>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut conn = self.pool.get().map_err(StoreError::from)?;
        f(&mut conn)
    }

    /// Runs `f` with a pooled connection on the blocking pool. The caller's trace follows
    /// the work onto the blocking thread: the `tracing` span and the OpenTelemetry context
    /// (a gRPC call's server span, or the non-recording context of a call the sampler
    /// dropped, is no `tracing` span), so database spans and enqueued work join the request.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
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
}

#[cfg(test)]
mod tests {
    use super::Backend;

    #[test]
    fn debug_hides_credentials() {
        let shown = format!(
            "{:?}",
            Backend::from_url("postgres://ks:s3cret@db.example:5432/keys?password=other")
        );
        assert_eq!(shown, "Postgres(postgres://db.example:5432/keys)");
        assert_eq!(
            format!("{:?}", Backend::from_url("sqlite:///var/lib/ks.db")),
            "Sqlite(/var/lib/ks.db)"
        );
        assert!(!Backend::from_url("postgresql://u:p@h/db").is_sqlite());
    }
}
