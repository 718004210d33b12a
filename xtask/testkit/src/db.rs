//! A throwaway database per test on either backend (`xtask::testdb` underneath: PostgreSQL
//! from `DATABASE_URL` or a private cluster, SQLite in a temporary directory).

pub use xtask::testdb::{TestPostgres, TestSqlite, admin_url};

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A fresh database on the test PostgreSQL server.
    Postgres,
    /// A fresh SQLite file.
    Sqlite,
}

impl Backend {
    /// Both backends, PostgreSQL first.
    pub const BOTH: [Backend; 2] = [Backend::Postgres, Backend::Sqlite];

    /// `"postgres"` or `"sqlite"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

/// A database that exists as long as this value (dropped or deleted afterwards).
#[derive(Debug)]
pub enum TestDb {
    /// A PostgreSQL database, dropped on drop.
    Postgres(TestPostgres),
    /// A SQLite file in a temporary directory, deleted on drop.
    Sqlite(TestSqlite),
}

impl TestDb {
    /// Creates an empty database on `backend`; panics when the backend is unreachable.
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Postgres => Self::Postgres(TestPostgres::new().expect("test PostgreSQL")),
            Backend::Sqlite => Self::Sqlite(TestSqlite::new().expect("test SQLite")),
        }
    }

    /// A fresh SQLite database.
    pub fn sqlite() -> Self {
        Self::new(Backend::Sqlite)
    }

    /// One fresh database per backend, PostgreSQL first, each with its backend's name.
    pub fn both() -> Vec<(&'static str, TestDb)> {
        Backend::BOTH
            .into_iter()
            .map(|b| (b.name(), Self::new(b)))
            .collect()
    }

    /// The backend this database is on.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The connection URL (a file path for SQLite).
    pub fn url(&self) -> &str {
        match self {
            Self::Postgres(db) => &db.url,
            Self::Sqlite(db) => &db.url,
        }
    }
}
