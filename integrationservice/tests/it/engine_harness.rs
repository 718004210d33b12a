//! The engine's test stack, all real: an in-process key service over mTLS (certificates from
//! `xtask::pki`), the in-process ON24 simulator over HTTP, and PostgreSQL or SQLite from
//! `xtask::testdb`, with the engine and its workers on short, configurable back-offs.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use integrationservice::crypto::Envelope;
use integrationservice::crypto::cache::DekCache;
use integrationservice::domain::{
    CredentialsInput, CrmReference, Description, DurationMinutes, Email, Engine, EventType,
    Language, PersonName, Registration, RegistrationInput, RegistrationStatus, StartTime, TenantId,
    TimeZone, Title, WebinarId, WebinarInput,
};
use integrationservice::keyclient::{KeyClient, KeyClientConfig};
use integrationservice::provider::on24::On24Provider;
use integrationservice::store::Store;
use integrationservice::workers::{Backoff, WorkerConfig, Workers};
use keyservice::config::Config as KsConfig;
use keyservice::server::{Listeners, run};
use on24sim::{SimConfig, SimHandle, Simulator};
use proto::keyservice::v1::{
    CreateKeyRequest, Key, KeyPurpose, RotateKeyRequest,
    key_admin_service_client::KeyAdminServiceClient,
};
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use xtask::pki::CertificateAuthority;
use zeroize::Zeroizing;

pub const SERVICE: &str = "spiffe://webinar.local/integrationservice";
pub const ADMIN: &str = "spiffe://webinar.local/admin";
pub const CLIENT_ID: i64 = 22334;
pub const TOKEN_KEY: &str = "sim-token-key-0001";
pub const TOKEN_SECRET: &str = "sim-token-secret-0001";

const POLICY: &str = r#"
[[rule]]
identity = "spiffe://webinar.local/integrationservice"
operations = ["generate", "wrap", "unwrap", "rewrap"]
keys = ["on24-credentials"]

[[rule]]
identity = "spiffe://webinar.local/admin"
operations = ["admin:*"]
keys = ["*"]
"#;

/// Which database a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Db {
    Postgres,
    Sqlite,
}

enum TestDb {
    Postgres(xtask::testdb::TestPostgres),
    Sqlite(xtask::testdb::TestSqlite),
}

impl TestDb {
    fn new(db: Db) -> Self {
        match db {
            Db::Postgres => {
                Self::Postgres(xtask::testdb::TestPostgres::new().expect("test postgres"))
            }
            Db::Sqlite => Self::Sqlite(xtask::testdb::TestSqlite::new().expect("test sqlite")),
        }
    }

    fn url(&self) -> &str {
        match self {
            Self::Postgres(d) => &d.url,
            Self::Sqlite(d) => &d.url,
        }
    }
}

/// A running key service with the `on24-credentials` key created.
pub struct KeyService {
    pub client_config: KeyClientConfig,
    admin: KeyAdminServiceClient<Channel>,
    shutdown: CancellationToken,
    _db: TestDb,
    _dir: tempfile::TempDir,
}

impl KeyService {
    pub async fn start() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = CertificateAuthority::new("engine test CA").expect("ca");
        let server = ca
            .server_cert(&["localhost", "127.0.0.1"])
            .expect("server cert");
        server
            .write(dir.path(), "server")
            .expect("write server cert");
        ca.write_cert(&dir.path().join("ca.crt")).expect("write ca");
        let root_key = dir.path().join("root.key");
        keyservice::rootkey::generate_root_key_file(&root_key).expect("root key");
        let policy = dir.path().join("policy.toml");
        std::fs::write(&policy, POLICY).expect("policy");
        let db = TestDb::new(Db::Sqlite);
        let mut config = KsConfig::defaults().expect("defaults");
        config.tls.cert = dir.path().join("server.crt");
        config.tls.key = dir.path().join("server.key");
        config.tls.client_ca = dir.path().join("ca.crt");
        config.root_key.source = format!("file:{}", root_key.display());
        config.database.url = db.url().to_owned();
        config.database.pool_size = 4;
        config.policy.file = policy;
        config.audit.sink = format!("file:{}", dir.path().join("audit.log").display());
        config.audit.fsync = "never".into();
        config.hardening.lock_memory = false;
        config.limits.rate_per_second = 0;
        let main = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let health = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = main.local_addr().expect("addr");
        let shutdown = CancellationToken::new();
        tokio::spawn(run(config, Listeners { main, health }, shutdown.clone()));

        let me = ca
            .client_cert_for("integrationservice", SERVICE)
            .expect("cert");
        let client_config = KeyClientConfig {
            endpoint: format!("https://127.0.0.1:{}", addr.port()),
            domain_name: Some("localhost".into()),
            ca_pem: ca.cert_pem.clone(),
            cert_pem: me.cert_pem.clone(),
            key_pem: Zeroizing::new(me.key_pem.clone()),
            key_name: "keys/on24-credentials".into(),
            timeout: Duration::from_secs(5),
        };
        let admin_cert = ca.client_cert_for("admin", ADMIN).expect("cert");
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&ca.cert_pem))
            .identity(Identity::from_pem(
                &admin_cert.cert_pem,
                &admin_cert.key_pem,
            ))
            .domain_name("localhost");
        let endpoint = Endpoint::from_shared(client_config.endpoint.clone())
            .expect("endpoint")
            .tls_config(tls)
            .expect("tls");
        let mut channel = None;
        for _ in 0..200 {
            if let Ok(c) = endpoint.connect().await {
                channel = Some(c);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut admin = KeyAdminServiceClient::new(channel.expect("key service did not start"));
        admin
            .create_key(CreateKeyRequest {
                key_id: "on24-credentials".into(),
                key: Some(Key {
                    purpose: KeyPurpose::EncryptDecrypt as i32,
                    ..Key::default()
                }),
            })
            .await
            .expect("create key");
        Self {
            client_config,
            admin,
            shutdown,
            _db: db,
            _dir: dir,
        }
    }

    /// Rotates the credentials key; returns the new primary version.
    pub async fn rotate(&self) -> u32 {
        let r = self
            .admin
            .clone()
            .rotate_key(RotateKeyRequest {
                name: "keys/on24-credentials".into(),
            })
            .await
            .expect("rotate")
            .into_inner();
        r.key_version.expect("version").version
    }
}

impl Drop for KeyService {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Everything a test needs.
pub struct Stack {
    pub engine: Engine,
    pub sim: SimHandle,
    pub keys: KeyService,
    pub tenant: TenantId,
    /// This engine's workers (None: started without).
    _workers: Option<Workers>,
    call_timeout: Duration,
    shutdown: CancellationToken,
    db: TestDb,
}

/// Another replica of the service: its own engine (pool, signals, workers) on the stack's
/// database, key service and simulator.
pub struct Replica {
    pub engine: Engine,
    pub workers: Option<Workers>,
    shutdown: CancellationToken,
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Worker settings for tests: fast polling, short back-off and quota pauses.
pub fn fast_workers() -> WorkerConfig {
    WorkerConfig {
        poll_interval: Duration::from_millis(50),
        backoff: Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(200),
        },
        quota_pause: Duration::from_millis(100),
        quota_pause_max: Duration::from_millis(500),
        wait_delay: Duration::from_millis(30),
        metrics_poll_interval: Duration::from_millis(200),
        rewrap_interval: None,
        ..WorkerConfig::default()
    }
}

impl Stack {
    pub async fn start(db: Db) -> Self {
        Self::start_with(db, fast_workers(), Duration::from_secs(5)).await
    }

    /// A stack whose ON24 calls give up after `call_timeout`.
    pub async fn start_with(db: Db, workers: WorkerConfig, call_timeout: Duration) -> Self {
        Self::start_opt(db, Some(workers), call_timeout).await
    }

    /// A stack whose engine runs the given workers, or none (an API-only replica).
    pub async fn start_opt(db: Db, workers: Option<WorkerConfig>, call_timeout: Duration) -> Self {
        let keys = KeyService::start().await;
        let sim = Simulator::start(SimConfig::with_account(CLIENT_ID, TOKEN_KEY, TOKEN_SECRET))
            .await
            .expect("simulator");
        let test_db = TestDb::new(db);
        let engine = engine_on(test_db.url(), &keys, call_timeout);
        engine.store().migrate().await.expect("migrate");
        let shutdown = CancellationToken::new();
        let workers = workers.map(|w| Workers::start(engine.clone(), w, shutdown.clone()));
        Self {
            engine,
            sim,
            keys,
            tenant: tenant_id("acme"),
            _workers: workers,
            call_timeout,
            shutdown,
            db: test_db,
        }
    }

    /// Starts another replica on this stack's database (with `workers`, or none).
    pub fn replica(&self, workers: Option<WorkerConfig>) -> Replica {
        let engine = engine_on(self.db.url(), &self.keys, self.call_timeout);
        let shutdown = CancellationToken::new();
        let workers = workers.map(|w| Workers::start(engine.clone(), w, shutdown.clone()));
        Replica {
            engine,
            workers,
            shutdown,
        }
    }

    /// A client of the simulator with the test account's working credentials.
    pub fn on24(&self) -> integrationservice::on24::On24Client {
        use integrationservice::on24::{BaseUrl, On24Client, On24ClientConfig, On24Credentials};
        On24Client::new(
            On24ClientConfig::with_base_url(BaseUrl::parse(&self.sim.base_url).expect("url")),
            On24Credentials::new(CLIENT_ID as u64, TOKEN_KEY, TOKEN_SECRET),
        )
        .expect("client")
    }

    pub fn credentials(&self, secret: &str) -> CredentialsInput {
        CredentialsInput {
            client_id: CLIENT_ID.to_string(),
            access_token_key: SecretString::from(TOKEN_KEY.to_owned()),
            access_token_secret: SecretString::from(secret.to_owned()),
            region: "NA".into(),
            base_url: Some(self.sim.base_url.clone()),
            check: true,
        }
    }

    /// Puts working credentials for `tenant`.
    pub async fn put_credentials(&self, tenant: &TenantId) {
        self.engine
            .providers()
            .put(tenant, self.credentials(TOKEN_SECRET))
            .await
            .expect("put credentials");
    }

    /// Creates a webinar (ended three hours ago) and waits until it exists at the simulator;
    /// returns (id, event id).
    pub async fn active_webinar(&self, tenant: &TenantId, reference: &str) -> (WebinarId, i64) {
        self.active_webinar_with(tenant, webinar_input(reference))
            .await
    }

    /// Like `active_webinar` with the given fields.
    pub async fn active_webinar_with(
        &self,
        tenant: &TenantId,
        input: WebinarInput,
    ) -> (WebinarId, i64) {
        let w = self
            .engine
            .webinars()
            .create(tenant, input, None)
            .await
            .expect("create webinar");
        let id = w.id;
        let event = eventually(
            "webinar created at ON24",
            Duration::from_secs(20),
            || async {
                self.engine
                    .webinars()
                    .get(tenant, &id)
                    .await
                    .ok()
                    .and_then(|w| w.on24_event_id)
            },
        )
        .await;
        (w.id, event)
    }

    /// Waits until every registration of the webinar has `status` (and there are `n`).
    pub async fn wait_all(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
        n: usize,
        status: RegistrationStatus,
        within: Duration,
    ) -> Vec<Registration> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let all = self.list_all(tenant, webinar).await;
            if all.len() == n && all.iter().all(|r| r.status == status) {
                return all;
            }
            if tokio::time::Instant::now() > deadline {
                let mut by_status = std::collections::BTreeMap::new();
                for r in &all {
                    *by_status.entry(r.status.as_str()).or_insert(0) += 1;
                }
                let t = tenant.to_string();
                let jobs = self
                    .engine
                    .store()
                    .run(move |conn| {
                        use diesel::prelude::*;
                        use integrationservice::store::schema::outbox_jobs::dsl as j;
                        j::outbox_jobs
                            .filter(j::tenant.eq(t))
                            .select((
                                j::kind,
                                j::state,
                                j::attempts,
                                j::last_error,
                                j::next_run_at,
                                j::lease_until,
                            ))
                            .limit(5)
                            .load::<(String, String, i32, Option<String>, i64, Option<i64>)>(conn)
                            .map_err(integrationservice::store::StoreError::from)
                    })
                    .await;
                panic!(
                    "timed out waiting for {n} registrations {}: {by_status:?}; now {}; jobs {jobs:?}",
                    status.as_str(),
                    chrono::Utc::now().timestamp_millis()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn list_all(&self, tenant: &TenantId, webinar: &WebinarId) -> Vec<Registration> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let page = self
                .engine
                .registrations()
                .list(tenant, webinar, None, 1000, &token)
                .await
                .expect("list");
            out.extend(page.items);
            if page.next_page_token.is_empty() {
                return out;
            }
            token = page.next_page_token;
        }
    }

    /// Journal entries of ON24 calls whose path contains `fragment`.
    pub async fn journal_count(&self, method: &str, fragment: &str) -> usize {
        self.sim
            .control()
            .journal()
            .await
            .expect("journal")
            .iter()
            .filter(|e| e.method == method && e.path.contains(fragment))
            .count()
    }
}

/// An engine on the database at `url` with the stack's key service and a fresh ON24 provider.
fn engine_on(url: &str, keys: &KeyService, call_timeout: Duration) -> Engine {
    let store = Store::connect(url, 16).expect("store");
    let key_client = KeyClient::connect_lazy(&keys.client_config).expect("key client");
    let envelope = Envelope::new(key_client, DekCache::new(1000, Duration::from_secs(60)));
    let provider = Arc::new(On24Provider::with_request_timeout(call_timeout));
    Engine::new(store, envelope, provider)
}

/// A tenant id (the test's own, known to be valid).
pub fn tenant_id(id: &str) -> TenantId {
    TenantId::parse(id).expect("tenant id")
}

pub fn webinar_input(reference: &str) -> WebinarInput {
    // ended two hours ago: attendance is available
    let start = chrono::Utc::now().timestamp() - 3 * 3_600;
    WebinarInput {
        crm_reference_id: CrmReference::parse(reference).expect("reference"),
        title: Title::parse(&format!("Webinar {reference}")).expect("title"),
        description: Description::parse("A test webinar").expect("description"),
        start_at: StartTime::from_parts(start, 0).expect("start"),
        duration_minutes: DurationMinutes::parse(60).expect("duration"),
        time_zone: TimeZone::parse("Europe/Paris").expect("time zone"),
        language: Language::parse("en").expect("language"),
        event_type: EventType::parse("").expect("event type"),
    }
}

/// A person with the required fields from `email`, `first` and `last`.
pub fn registrant(email: &str, first: &str, last: &str) -> RegistrationInput {
    RegistrationInput::new(
        Email::parse(email).expect("email"),
        PersonName::parse(first).expect("first name"),
        PersonName::parse(last).expect("last name"),
    )
}

pub fn person(n: usize) -> RegistrationInput {
    RegistrationInput {
        company: Some("Example Ltd".into()),
        job_title: Some("Engineer".into()),
        ..registrant(
            &format!("Person{n}@Example.com"),
            &format!("First{n}"),
            &format!("Last{n}"),
        )
    }
}

/// Polls `probe` until it yields a value, failing the test after `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs an async test body on PostgreSQL and on SQLite.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                $body($crate::engine_harness::Db::Postgres).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                $body($crate::engine_harness::Db::Sqlite).await;
            }
        }
    };
}
