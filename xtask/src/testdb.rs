//! Databases for tests: each test gets its own PostgreSQL database (dropped afterwards) or
//! its own SQLite file.
//!
//! PostgreSQL comes from `DATABASE_URL` when it is set (any database on a server where the
//! user may `CREATE DATABASE`); otherwise a throwaway cluster is started once from the
//! PostgreSQL binaries on this machine and shared by every test process of this checkout. A
//! test that stops or restarts the server gets a cluster of its own ([`TestCluster`]).

use std::{
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
    time::Duration,
};

use anyhow::{Context, Result, bail};
use diesel::{Connection, RunQueryDsl, pg::PgConnection};

/// A PostgreSQL database that exists for the life of this value.
#[derive(Debug)]
pub struct TestPostgres {
    /// Connection URL of the new, empty database.
    pub url: String,
    name: String,
    admin_url: String,
}

impl TestPostgres {
    /// Creates a fresh, empty database.
    pub fn new() -> Result<Self> {
        let admin_url = admin_url()?;
        let name = format!("t_{}", uuid_like());
        let mut conn = PgConnection::establish(&admin_url)
            .with_context(|| "connecting to the test PostgreSQL server")?;
        diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut conn)?;
        Ok(Self {
            url: replace_database(&admin_url, &name),
            name,
            admin_url,
        })
    }

    /// The URL of the server's maintenance database (for tests that need several databases).
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin_url) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}

/// A SQLite database file in its own temporary directory.
#[derive(Debug)]
pub struct TestSqlite {
    /// Path of the database file, usable as a diesel SQLite URL.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl TestSqlite {
    /// Creates a temporary directory and names a database file inside it.
    pub fn new() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let url = dir.path().join("test.sqlite").display().to_string();
        Ok(Self { url, _dir: dir })
    }
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{:x}_{:x}_{n}", std::process::id(), nanos)
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// The URL used to create and drop test databases.
pub fn admin_url() -> Result<String> {
    static URL: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Ok(url),
        _ => throwaway_cluster().map_err(|e| format!("{e:#}")),
    })
    .clone()
    .map_err(|e| anyhow::anyhow!(e))
}

/// A PostgreSQL cluster of the test's own, in a temporary directory on a port of its own, for
/// a test that stops or restarts the server (never the shared one: other tests use it). It
/// is stopped and deleted on drop.
#[derive(Debug)]
pub struct TestCluster {
    /// Connection URL of the cluster's `postgres` database (trust authentication).
    pub url: String,
    port: u16,
    as_root: bool,
    dir: tempfile::TempDir,
}

impl TestCluster {
    /// Creates the cluster (`initdb`) and starts it; returns once it accepts connections.
    pub fn start() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("webinar-test-cluster-")
            .tempdir()?;
        let as_root = rustix_is_root();
        if as_root {
            chown_postgres(dir.path())?;
        }
        init_cluster(as_root, &dir.path().join("data"))?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let cluster = Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            port,
            as_root,
            dir,
        };
        cluster.start_server()?;
        Ok(cluster)
    }

    /// A fresh, empty database on this cluster; its URL.
    pub fn create_database(&self, name: &str) -> Result<String> {
        let mut conn = PgConnection::establish(&self.url)?;
        diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut conn)?;
        Ok(replace_database(&self.url, name))
    }

    /// Stops the server the way an operator's restart does (`pg_ctl -m fast stop`: open
    /// connections are terminated, transactions in progress roll back).
    pub fn stop(&self) -> Result<()> {
        run_pg(
            self.as_root,
            Command::new(pg_binary("pg_ctl")?)
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-m", "fast", "-w", "-t", "60", "stop"]),
        )
        .context("pg_ctl stop")
    }

    /// Starts the server again on the same port; returns once it accepts connections.
    pub fn start_server(&self) -> Result<()> {
        start_server(self.as_root, self.dir.path(), self.port)?;
        wait_accepting(&self.url, self.dir.path())
    }

    /// A fast stop, then a start on the same port.
    pub fn restart(&self) -> Result<()> {
        self.stop()?;
        self.start_server()
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let Ok(pg_ctl) = pg_binary("pg_ctl") {
            let _ = run_pg(
                self.as_root,
                Command::new(pg_ctl)
                    .arg("-D")
                    .arg(self.dir.path().join("data"))
                    .args(["-m", "immediate", "-w", "stop"]),
            );
        }
    }
}

/// `initdb` of a trust-authenticated cluster in `data` (no fsync: test data).
fn init_cluster(as_root: bool, data: &Path) -> Result<()> {
    let initdb = pg_binary("initdb")?;
    run_pg(
        as_root,
        Command::new(initdb)
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(data),
    )
    .context("initdb")
}

/// Starts the cluster in `dir/data` on 127.0.0.1:`port` (its socket and log in `dir`).
fn start_server(as_root: bool, dir: &Path, port: u16) -> Result<()> {
    let options = format!(
        "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=300 -c shared_buffers=128MB",
        dir.display()
    );
    let pg_ctl = pg_binary("pg_ctl")?;
    run_pg(
        as_root,
        Command::new(pg_ctl)
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-o", &options, "-l"])
            .arg(dir.join("server.log"))
            .args(["-w", "-t", "60", "start"]),
    )
    .context("pg_ctl start")
}

/// Waits until the server at `url` accepts connections (about ten seconds at most).
fn wait_accepting(url: &str, dir: &Path) -> Result<()> {
    for _ in 0..100 {
        if PgConnection::establish(url).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "the throwaway PostgreSQL did not accept connections; see {}",
        dir.display()
    )
}

/// Starts (or reuses) a PostgreSQL cluster private to this checkout, in the temp directory.
fn throwaway_cluster() -> Result<String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."));
    let dir = std::env::temp_dir().join(format!(
        "webinar-test-pg-{:x}",
        fnv1a(workspace.display().to_string().as_bytes())
    ));
    fs::create_dir_all(&dir)?;
    let lock = fs::File::create(dir.join("lock"))?;
    lock.lock()?; // one process sets the cluster up; the others wait, then reuse it
    let port_file = dir.join("port");
    let data = dir.join("data");
    let as_root = rustix_is_root();
    if as_root {
        chown_postgres(&dir)?;
    }
    if !data.join("PG_VERSION").exists() {
        init_cluster(as_root, &data)?;
    }
    if let Ok(port) = fs::read_to_string(&port_file) {
        let url = format!("postgres://postgres@127.0.0.1:{}/postgres", port.trim());
        if PgConnection::establish(&url).is_ok() {
            return Ok(url);
        }
    }
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    start_server(as_root, &dir, port)?;
    fs::write(&port_file, port.to_string())?;
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    wait_accepting(&url, &dir)?;
    Ok(url)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

fn rustix_is_root() -> bool {
    // The uid of the files we just created tells us who we are without unsafe code.
    use std::os::unix::fs::MetadataExt;
    fs::metadata(std::env::temp_dir()).is_ok()
        && tempfile::tempfile()
            .and_then(|f| f.metadata())
            .map(|m| m.uid() == 0)
            .unwrap_or(false)
}

/// `initdb` refuses to run as root, so as root the cluster belongs to the `postgres` user.
/// Only the folder itself changes owner (postgres writes its socket, log and `data` in it;
/// initdb creates `data` as postgres): a recursive chown would race the running server of
/// other test processes, which create and delete files under `data` all the time.
fn chown_postgres(dir: &Path) -> Result<()> {
    let status = Command::new("chown")
        .arg("postgres:postgres")
        .arg(dir)
        .status()
        .context("chown (is there a `postgres` user?)")?;
    if !status.success() {
        bail!("cannot give {} to the postgres user", dir.display());
    }
    Ok(())
}

fn run_pg(as_root: bool, command: &mut Command) -> Result<()> {
    let output = if as_root {
        let program = command.get_program().to_owned();
        let args: Vec<_> = command.get_args().map(|a| a.to_owned()).collect();
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(program)
            .args(args)
            .current_dir("/")
            .output()?
    } else {
        command.output()?
    };
    if !output.status.success() {
        bail!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Finds a PostgreSQL server binary on PATH or in Debian's versioned directories.
pub fn pg_binary(name: &str) -> Result<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    let mut versions: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    versions.sort();
    versions
        .into_iter()
        .rev()
        .map(|v| v.join("bin").join(name))
        .find(|p| p.is_file())
        .with_context(|| {
            format!("PostgreSQL's `{name}` was not found; install PostgreSQL or set DATABASE_URL")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_in_urls() {
        assert_eq!(
            replace_database("postgres://u@h:1/postgres?sslmode=disable", "t"),
            "postgres://u@h:1/t?sslmode=disable"
        );
        assert_eq!(
            replace_database("postgres://u@h:1", "t"),
            "postgres://u@h:1/t"
        );
    }

    #[test]
    fn creates_and_drops_a_postgres_database() -> Result<()> {
        let db = TestPostgres::new()?;
        let mut conn = PgConnection::establish(&db.url)?;
        diesel::sql_query("CREATE TABLE t (id INT)").execute(&mut conn)?;
        Ok(())
    }
}
