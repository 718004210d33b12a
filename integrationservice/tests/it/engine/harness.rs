//! The engine's test stack, all real: an in-process key service over mTLS (certificates from
//! `xtask::pki`), the in-process ON24 simulator over HTTP, and PostgreSQL or SQLite from
//! `xtask::testdb`, with the engine and its workers on short, configurable back-offs.

use std::sync::Arc;
use std::time::Duration;

use integrationservice::domain::{
    AccessToken, BaseUrl, CredentialsInput, CrmReference, Description, DurationMinutes, Email,
    Engine, EventType, Language, On24ClientId, PersonName, Region, Registration, RegistrationInput,
    RegistrationStatus, StartTime, TenantId, TimeZone, Title, WebinarId, WebinarInput,
};
use integrationservice::testing::DekCache;
use integrationservice::testing::Envelope;
use integrationservice::testing::On24Provider;
use integrationservice::testing::Store;
use integrationservice::testing::{Backoff, WorkerConfig, Workers};
use integrationservice::testing::{KeyClient, KeyClientConfig};
use on24sim::SimHandle;
use tokio_util::sync::CancellationToken;
use xtask::pki::CertificateAuthority;
use zeroize::Zeroizing;

pub use testkit::keyservice::SERVICE;
pub const CLIENT_ID: i64 = testkit::sim::Account::TEST.client_id;
pub const TOKEN_KEY: &str = testkit::sim::Account::TEST.token_key;
pub const TOKEN_SECRET: &str = testkit::sim::Account::TEST.token_secret;

pub use testkit::{Backend as Db, TestDb, eventually};

/// A running key service (`testkit`'s, with the credentials key created) and the key client
/// configuration the engine uses to reach it.
pub struct KeyService {
    pub client_config: KeyClientConfig,
    service: testkit::KeyService,
}

impl KeyService {
    pub async fn start() -> Self {
        let ca = CertificateAuthority::new("engine test CA").expect("ca");
        // Deletions may wait as little as a second and are carried out every second, so a
        // test sees a purged tenant's KEK destroyed.
        let service = testkit::KeyService::for_credentials_with(&ca, |c| {
            c.rotation.min_deletion_waiting_secs = 1;
            c.rotation.check_interval_secs = 1;
        })
        .await;
        let me = ca
            .client_cert_for("integrationservice", SERVICE)
            .expect("cert");
        let client_config = KeyClientConfig {
            endpoint: service.endpoint.clone(),
            domain_name: Some("localhost".into()),
            ca_pem: ca.cert_pem.clone(),
            cert_pem: me.cert_pem.clone(),
            key_pem: Zeroizing::new(me.key_pem.clone()),
            key_name: format!("keys/{}", testkit::keyservice::CREDENTIALS_KEY),
            timeout: Duration::from_secs(5),
        };
        Self {
            client_config,
            service,
        }
    }

    /// The key service's audit log.
    pub fn audit_path(&self) -> &std::path::Path {
        &self.service.audit_path
    }

    /// The state of `keys/{key_id}` as the administrator reads it.
    pub async fn key_state(&self, key_id: &str) -> proto::keyservice::v1::KeyState {
        let key = self
            .service
            .admin()
            .await
            .get_key(proto::keyservice::v1::GetKeyRequest {
                name: format!("keys/{key_id}"),
            })
            .await
            .expect("get key")
            .into_inner();
        key.key.expect("key").state()
    }

    /// Stops the key service, keeping its keys and port (an outage: see `resume`).
    pub async fn pause(&mut self) {
        self.service.pause().await;
    }

    /// Starts the paused key service again on its port; returns once it is healthy.
    pub async fn resume(&mut self) {
        self.service.resume().await;
    }

    /// Rotates the credentials key; returns the new primary version.
    pub async fn rotate(&self) -> u32 {
        self.service
            .rotate(testkit::keyservice::CREDENTIALS_KEY)
            .await
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
        Self::start_with_sim(
            db,
            workers,
            call_timeout,
            testkit::sim::Account::TEST.config(),
        )
        .await
    }

    /// Like `start_opt` with a simulator of the given configuration (which must know the
    /// test account).
    pub async fn start_with_sim(
        db: Db,
        workers: Option<WorkerConfig>,
        call_timeout: Duration,
        sim: on24sim::SimConfig,
    ) -> Self {
        let keys = KeyService::start().await;
        let sim = on24sim::Simulator::start(sim)
            .await
            .expect("the ON24 simulator starts");
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
    pub fn on24(&self) -> on24_client::On24Client {
        use on24_client::{BaseUrl, On24Client, On24ClientConfig, On24Credentials};
        On24Client::new(
            On24ClientConfig::with_base_url(BaseUrl::parse(&self.sim.base_url).expect("url")),
            On24Credentials::new(CLIENT_ID as u64, TOKEN_KEY, TOKEN_SECRET),
        )
        .expect("client")
    }

    /// The test account's credentials with `secret`, calling the simulator.
    pub fn credentials(&self, secret: &str) -> CredentialsInput {
        self.account_credentials(CLIENT_ID, TOKEN_KEY, secret)
    }

    /// Credentials of any simulator account, built through the domain's constructors.
    pub fn account_credentials(&self, client_id: i64, key: &str, secret: &str) -> CredentialsInput {
        let loopback = on24_client::EgressPolicy::new(Vec::<String>::new(), true);
        CredentialsInput {
            client_id: On24ClientId::parse(&client_id.to_string()).expect("client id"),
            access_token_key: AccessToken::parse(key.to_owned()).expect("key"),
            access_token_secret: AccessToken::parse(secret.to_owned()).expect("secret"),
            region: Region::Na,
            base_url: BaseUrl::parse(&self.sim.base_url, &loopback).expect("simulator url"),
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
        // Listing every registration is not free: every 50 ms, not every 25.
        let waited = testkit::wait_for_every(within, Duration::from_millis(50), || async {
            let all = self.list_all(tenant, webinar).await;
            if all.len() == n && all.iter().all(|r| r.status == status) {
                Ok(all)
            } else {
                let mut by_status = std::collections::BTreeMap::new();
                for r in &all {
                    *by_status.entry(r.status.as_str()).or_insert(0) += 1;
                }
                Err(by_status)
            }
        })
        .await;
        match waited {
            Ok(all) => all,
            Err(by_status) => {
                let by_status = by_status.unwrap_or_default();
                let t = tenant.to_string();
                let jobs = self
                    .engine
                    .store()
                    .run(move |conn| {
                        use diesel::prelude::*;
                        use integrationservice::testing::schema::outbox_jobs::dsl as j;
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
                            .map_err(integrationservice::testing::StoreError::from)
                    })
                    .await;
                panic!(
                    "timed out waiting for {n} registrations {}: {by_status}; now {}; jobs {jobs:?}",
                    status.as_str(),
                    chrono::Utc::now().timestamp_millis()
                );
            }
        }
    }

    pub async fn list_all(&self, tenant: &TenantId, webinar: &WebinarId) -> Vec<Registration> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let page = self
                .engine
                .registrations()
                .list(tenant, webinar, None, None, 1000, &token)
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
    let provider = Arc::new(
        On24Provider::with_request_timeout(call_timeout).with_egress(
            on24_client::EgressPolicy::new(on24_client::DEFAULT_ON24_HOSTS, true),
        ),
    );
    Engine::new(store, envelope, provider).with_tenant_kek_deletion_waiting(Duration::from_secs(1))
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

/// Runs an async test body on PostgreSQL and on SQLite.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                $body($crate::engine::harness::Db::Postgres).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                $body($crate::engine::harness::Db::Sqlite).await;
            }
        }
    };
}
