//! Storage of keys and sealed KEK versions, the only code that speaks SQL: the queries and
//! change notifications over the pool, pragmas and blocking-pool helpers shared with the
//! integration service (`servicekit::db`), with this service's migrations run at open.

pub mod models;
pub mod notify;
pub mod queries;
/// The tables, as diesel's `table!` generates them (their columns are documented by the migrations).
#[allow(missing_docs)]
pub mod schema;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use servicekit::db::{Pool, PoolOptions};

pub use servicekit::db::{Backend, StoreError};

/// A connection to either backend; queries are written once against [`schema`].
pub type DbConn = servicekit::db::DbConnection;

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/keyservice/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/keyservice/sqlite");

/// Advisory-lock id that serialises migrations across replicas ("keysvc" in ASCII).
const MIGRATION_LOCK: i64 = 0x6b65_7973_7663;

/// The connection pool and its backend. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
}

impl Store {
    /// Opens a pool and applies pending migrations (blocking; call before serving or inside
    /// `spawn_blocking`). SQLite gets one connection (see `servicekit::db`).
    pub fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = Pool::connect(
            url,
            PoolOptions {
                max_connections,
                test_on_check_out: true,
                // A KEK version that wrapped data keys must survive a power loss.
                sync_every_commit: true,
            },
        )?;
        pool.migrate(PG_MIGRATIONS, SQLITE_MIGRATIONS, Some(MIGRATION_LOCK))?;
        Ok(Self { pool })
    }

    /// The backend behind this store.
    pub fn backend(&self) -> &Backend {
        self.pool.backend()
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.pool.run(f).await
    }

    /// Runs `f` with a pooled connection on the current thread (for CLIs and tests).
    pub fn run_blocking<T>(
        &self,
        f: impl FnOnce(&mut DbConn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.pool.run_blocking(f)
    }
}
