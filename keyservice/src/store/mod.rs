//! Storage of keys and sealed KEK versions: one diesel query layer over PostgreSQL and
//! SQLite, an r2d2 pool, embedded migrations run at open, and blocking work kept off the
//! async runtime.

pub mod models;
pub mod notify;
pub mod queries;
pub mod schema;

use std::time::Duration;

use diesel::{
    Connection, RunQueryDsl,
    pg::PgConnection,
    r2d2::{self, ManageConnection, R2D2Connection},
    sqlite::SqliteConnection,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/keyservice/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/keyservice/sqlite");

/// Advisory-lock id that serialises migrations across replicas ("keysvc" in ASCII).
const MIGRATION_LOCK: i64 = 0x6b65_7973_7663;

/// A connection to either backend; queries are written once against [`schema`].
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    /// PostgreSQL: what several replicas share.
    Pg(PgConnection),
    /// SQLite: a single replica.
    Sqlite(SqliteConnection),
}

impl std::fmt::Debug for DbConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pg(_) => "DbConn::Pg",
            Self::Sqlite(_) => "DbConn::Sqlite",
        })
    }
}

/// Errors of the storage layer. Messages never carry row contents.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection in time (pool exhausted or database down).
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

#[derive(Debug)]
struct Manager {
    backend: Backend,
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        match &self.backend {
            Backend::Postgres(url) => PgConnection::establish(url)
                .map(DbConn::Pg)
                .map_err(r2d2::Error::ConnectionError),
            Backend::Sqlite(path) => {
                let mut conn =
                    SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                for pragma in [
                    "PRAGMA busy_timeout = 10000",
                    "PRAGMA journal_mode = WAL",
                    "PRAGMA foreign_keys = ON",
                ] {
                    diesel::sql_query(pragma)
                        .execute(&mut conn)
                        .map_err(r2d2::Error::QueryError)?;
                }
                Ok(DbConn::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// The connection pool and its backend. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
}

impl Store {
    /// Opens a pool and applies pending migrations (blocking; call before serving or inside
    /// `spawn_blocking`). SQLite gets one connection: it has one writer anyway, and one
    /// connection avoids "database is locked" when a transaction upgrades to writing.
    pub fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let backend = Backend::from_url(url);
        let size = match backend {
            Backend::Sqlite(_) => 1,
            Backend::Postgres(_) => max_connections.max(2),
        };
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(Manager {
                backend: backend.clone(),
            })
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let store = Self { pool, backend };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.get()?;
        let result = match &mut *conn {
            DbConn::Pg(c) => {
                // Replicas starting together must not apply the same migration twice: the
                // advisory lock (session-scoped, released right after) serialises them.
                diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
                    .execute(c)?;
                let applied = c.run_pending_migrations(PG_MIGRATIONS).map(|_| ());
                diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
                    .execute(c)?;
                applied
            }
            DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        };
        result.map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// The backend behind this store.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(StoreError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| E::from(StoreError::Unavailable(e.to_string())))?
    }

    /// Runs `f` with a pooled connection on the current thread (for CLIs and tests).
    pub fn run_blocking<T>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.get()?;
        f(&mut conn)
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
    }
}
