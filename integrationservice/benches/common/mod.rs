//! What the service and scale benchmarks share: the service as a child process on PostgreSQL
//! behind mTLS (with the in-process key service and ON24 simulator), its CPU, memory and WAL
//! figures, and the calls every phase makes (credentials, a webinar live at ON24, listing).
//! A module of each bench, not a bench itself (`benches/common/mod.rs` is not a target).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};
use prost_types::Timestamp;
use proto::webinar::v1::{
    provider_config_service_client::ProviderConfigServiceClient,
    registration_service_client::RegistrationServiceClient,
    webinar_service_client::WebinarServiceClient, *,
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use xtask::pki::CertificateAuthority;

use crate::engine_harness::{CLIENT_ID, KeyService, TOKEN_KEY, TOKEN_SECRET};

/// The CRM's identity (its client certificate's URI SAN), allowed the benches' tenants.
pub const CRM: &str = "spiffe://webinar.local/crm/demo";
/// A size from the environment, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes a file of the service's configuration into `dir`.
pub fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write bench file");
    path
}

/// A loopback address with a free port.
pub fn free_port() -> std::net::SocketAddr {
    let port = xtask::ports::free_port().expect("free loopback port");
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

/// CPU seconds (user + system) of a process, from `/proc/<pid>/stat` (clock ticks of 1/100 s).
pub fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// A `/proc/<pid>/status` field in KiB (VmHWM, VmRSS).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The machine's load averages (1, 5, 15 minutes).
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// How to start the service: its files, CA, database and key service.
pub struct Service {
    dir: tempfile::TempDir,
    ca: CertificateAuthority,
    url: String,
    ks: String,
    /// The service's `database.max_connections`.
    pub pool: usize,
}

/// The service as a child process, killed on drop.
pub struct Running {
    pub child: Child,
    pub grpc: std::net::SocketAddr,
    /// The service's database, whose write-ahead log measures what each phase wrote.
    url: String,
}

/// Where a phase started: the service's CPU time and the database's WAL position.
#[derive(Clone, Copy)]
pub struct Mark {
    cpu: f64,
    wal: u64,
}

/// The WAL position in bytes. The WAL is the cluster's: with `DATABASE_URL` pointing at a
/// shared server, other databases' writes count too (run the bench on a quiet server).
pub fn wal_bytes(url: &str) -> u64 {
    #[derive(diesel::QueryableByName)]
    struct Position {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        bytes: i64,
    }
    let mut conn = PgConnection::establish(url).expect("connect for the WAL position");
    diesel::sql_query("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS bytes")
        .get_result::<Position>(&mut conn)
        .map_or(0, |p| u64::try_from(p.bytes).unwrap_or(0))
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    pub fn report(&self, phase: &str, mark: Mark, wall: Duration) {
        let pid = self.child.id();
        let cpu = cpu_secs(&pid.to_string()) - mark.cpu;
        println!(
            "  [{phase}] service VmHWM {:.1} MiB, VmRSS {:.1} MiB, service CPU {cpu:.2} s in {:.2} s wall, load {}",
            status_kib(pid, "VmHWM:") as f64 / 1024.0,
            status_kib(pid, "VmRSS:") as f64 / 1024.0,
            wall.as_secs_f64(),
            loadavg()
        );
    }

    /// [`Self::report`], then the phase's cost per operation: service CPU and WAL written.
    pub fn report_per_op(&self, phase: &str, mark: Mark, wall: Duration, ops: usize) {
        self.report(phase, mark, wall);
        let cpu = cpu_secs(&self.child.id().to_string()) - mark.cpu;
        let wal = wal_bytes(&self.url).saturating_sub(mark.wal);
        let ops = ops.max(1) as f64;
        println!(
            "  [{phase}] per operation: service CPU {:.3} ms, WAL {:.0} bytes",
            cpu * 1e3 / ops,
            wal as f64 / ops
        );
    }

    /// Brings the planner's statistics up to date, as autovacuum does a while after a bulk
    /// load: a sync timed right after its 100,000 registrations were written otherwise
    /// measures plans made for a table the planner still takes for empty, which no webinar
    /// synced days after its people registered meets.
    pub fn analyze(&self) {
        let mut conn = PgConnection::establish(&self.url).expect("connect to analyze");
        diesel::sql_query("ANALYZE")
            .execute(&mut conn)
            .expect("analyze");
    }

    /// The start of a phase.
    pub fn mark(&self) -> Mark {
        Mark {
            cpu: cpu_secs(&self.child.id().to_string()),
            wal: wal_bytes(&self.url),
        }
    }
}

/// The delivery workers of one service start.
#[derive(Clone, Copy)]
pub struct Workers {
    pub enabled: bool,
    pub concurrency: usize,
    pub per_tenant: usize,
}

impl Workers {
    /// One tenant may use every worker (phases (c) and (d)).
    pub const ONE_TENANT: Self = Self {
        enabled: true,
        concurrency: 64,
        per_tenant: 64,
    };
    pub const OFF: Self = Self {
        enabled: false,
        ..Self::ONE_TENANT
    };
}

impl Service {
    /// Starts the service with `workers`, personal data sealed.
    pub fn start(&self, workers: Workers) -> Running {
        self.start_with(workers, false)
    }

    /// `plaintext`: personal columns stored in clear (the benchmark-only switch).
    pub fn start_with(&self, workers: Workers, plaintext: bool) -> Running {
        let (grpc, health) = (free_port(), free_port());
        let d = self.dir.path().display();
        let config = format!(
            r#"
[listen]
grpc = "{grpc}"
health = "{health}"
[tls]
cert_file = "{d}/server.crt"
key_file = "{d}/server.key"
client_ca_file = "{d}/ca.crt"
[auth]
policy_file = "{d}/policy.toml"
[database]
url = "{url}"
max_connections = {pool}
benchmark_plaintext_personal_data = {plaintext}
[keyservice]
endpoint = "{ks}"
server_name = "localhost"
ca_file = "{d}/ks-ca.crt"
cert_file = "{d}/is.crt"
key_file = "{d}/is.key"
[workers]
enabled = {enabled}
concurrency = {concurrency}
per_tenant_concurrency = {per_tenant}
backoff_base_ms = 50
backoff_max_ms = 1000
poll_interval_ms = 100
[metrics_poll]
enabled = false
[on24]
# The simulator answers a list of 100,000 registrants only once it has built it, which on
# this busy 2-core machine took over 10 s (a sync failed on it): the bench measures the
# service, so ON24's own time gets room.
request_timeout_ms = 60000
allow_loopback = true
[limits]
# One tenant drives the whole machine here: buckets far above the offered load, so every
# call still pays for the check but none is refused.
tenant_requests_per_second = 1000000
tenant_burst = 1000000
principal_requests_per_second = 1000000
principal_burst = 1000000
"#,
            url = self.url,
            ks = self.ks,
            pool = self.pool,
            enabled = workers.enabled,
            concurrency = workers.concurrency,
            per_tenant = workers.per_tenant,
        );
        let path = write(self.dir.path(), "integrationservice.toml", &config);
        let child = Command::new(env!("CARGO_BIN_EXE_integrationservice"))
            .arg("--config")
            .arg(&path)
            .arg("serve")
            .env("RUST_LOG", "warn")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            // The allocator settings the container image ships with, unless the caller set
            // its own (`GLIBC_TUNABLES=` with no value measures glibc's defaults).
            .env(
                "GLIBC_TUNABLES",
                std::env::var("GLIBC_TUNABLES")
                    .unwrap_or_else(|_| xtask::allocator::GLIBC_TUNABLES.to_owned()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn integrationservice");
        Running {
            child,
            grpc,
            url: self.url.clone(),
        }
    }

    /// A channel to the running service as the CRM, once it answers.
    pub async fn channel(&self, running: &Running) -> Channel {
        let crm = self.ca.client_cert_for("crm-demo", CRM).expect("cert");
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca.cert_pem))
            .identity(Identity::from_pem(&crm.cert_pem, &crm.key_pem))
            .domain_name("localhost");
        let endpoint = Channel::from_shared(format!("https://{}", running.grpc))
            .expect("uri")
            .tls_config(tls)
            .expect("tls")
            .timeout(Duration::from_secs(60));
        testkit::eventually("the service to come up", Duration::from_secs(60), || {
            endpoint.connect()
        })
        .await
    }
}

/// The `i`-th registration of a run, its email made from `prefix`.
pub fn registration(prefix: &str, i: usize) -> Registration {
    Registration {
        email: format!("{prefix}{i}@example.com"),
        first_name: format!("First{i}"),
        last_name: "Bench".into(),
        company: "Example Ltd".into(),
        ..Default::default()
    }
}

/// [`registration`] with its email scattered over the key space the way a CRM's people are
/// (`{hex}.{prefix}{i}@example.com`, the hex a mix of `i`): numbered emails arrive in key
/// order, so a plain email index only ever grows at its right edge, which no real list does,
/// while a keyed hash of the same email lands anywhere. (e) writes these, so its runs with
/// encryption off keep the cost of an index on real emails.
pub fn scattered_registration(prefix: &str, i: usize) -> Registration {
    // SplitMix64's finaliser: consecutive `i` land far apart.
    let mut x = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    let mut r = registration(prefix, i);
    r.email = format!("{x:016x}.{}", r.email);
    r
}

/// Creates a webinar of tenant `demo` and waits until it exists at ON24; returns its name and
/// ON24 event id.
pub async fn webinar(channel: &Channel, reference: &str) -> (String, i64) {
    tenant_webinar(channel, "demo", reference).await
}

/// [`webinar`] for any tenant.
pub async fn tenant_webinar(channel: &Channel, tenant: &str, reference: &str) -> (String, i64) {
    let mut webinars = WebinarServiceClient::new(channel.clone());
    let w = webinars
        .create_webinar(CreateWebinarRequest {
            parent: format!("tenants/{tenant}"),
            webinar: Some(Webinar {
                crm_reference_id: reference.into(),
                title: format!("Bench {reference}"),
                start_time: Some(Timestamp {
                    seconds: chrono::Utc::now().timestamp() + 86_400,
                    nanos: 0,
                }),
                duration_minutes: 60,
                time_zone: "UTC".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("create webinar")
        .into_inner()
        .webinar
        .expect("webinar");
    let event = testkit::eventually("the webinar at ON24", Duration::from_secs(60), || {
        let mut webinars = webinars.clone();
        let name = w.name.clone();
        async move {
            let got = webinars
                .get_webinar(GetWebinarRequest { name })
                .await
                .expect("get")
                .into_inner()
                .webinar
                .expect("webinar");
            (got.on24_event_id > 0).then_some(got.on24_event_id)
        }
    })
    .await;
    (w.name, event)
}

/// Stores the simulator's demo credentials for `tenant`, checked live.
pub async fn put_credentials(channel: &Channel, tenant: &str, base_url: &str) {
    ProviderConfigServiceClient::new(channel.clone())
        .put_on24_credentials(PutOn24CredentialsRequest {
            on24_credentials: Some(On24Credentials {
                name: format!("tenants/{tenant}/on24Credentials"),
                client_id: CLIENT_ID.to_string(),
                access_token_key: TOKEN_KEY.into(),
                access_token_secret: TOKEN_SECRET.into(),
                base_url: base_url.to_owned(),
                ..Default::default()
            }),
            live_check: true,
            validate_only: false,
        })
        .await
        .expect("credentials");
}

/// Every registration of `webinars` read page by page, with `filter`.
pub async fn list_all(
    regs: &RegistrationServiceClient<Channel>,
    webinars: &[String],
    filter: &str,
) -> Vec<Registration> {
    let mut all = Vec::new();
    for webinar in webinars {
        let mut page_token = String::new();
        loop {
            let page = regs
                .clone()
                .list_registrations(ListRegistrationsRequest {
                    parent: webinar.clone(),
                    page_size: 1000,
                    page_token,
                    filter: filter.into(),
                })
                .await
                .expect("list")
                .into_inner();
            all.extend(page.registrations);
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
    }
    all
}

/// What every bench starts with: the key service, the ON24 simulator, a PostgreSQL database of
/// its own, and the service's files (TLS certificates, the CRM's policy for `tenants`).
pub struct Fixture {
    pub keys: KeyService,
    pub sim: on24sim::SimHandle,
    pub pg: xtask::testdb::TestPostgres,
    pub service: Service,
}

impl Fixture {
    /// Starts everything but the service itself (see [`Service::start`]).
    pub async fn start(tenants: &[String], pool: usize) -> Self {
        let keys = KeyService::start().await;
        let sim = on24sim::Simulator::start(on24sim::SimConfig::with_account(
            CLIENT_ID,
            TOKEN_KEY,
            TOKEN_SECRET,
        ))
        .await
        .expect("simulator");
        let pg = xtask::testdb::TestPostgres::new().expect("postgres");
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = CertificateAuthority::new("bench CA").expect("CA");
        let server = ca.server_cert(&["localhost", "127.0.0.1"]).expect("cert");
        let kc = &keys.client_config;
        write(dir.path(), "server.crt", &server.cert_pem);
        write(dir.path(), "server.key", &server.key_pem);
        write(dir.path(), "ca.crt", &ca.cert_pem);
        let allowed: Vec<String> = tenants.iter().map(|t| format!("\"{t}\"")).collect();
        write(
            dir.path(),
            "policy.toml",
            &format!(
                "[[principal]]\nid = \"{CRM}\"\ntenants = [{}]\n",
                allowed.join(", ")
            ),
        );
        write(dir.path(), "ks-ca.crt", &kc.ca_pem);
        write(dir.path(), "is.crt", &kc.cert_pem);
        write(dir.path(), "is.key", &kc.key_pem);
        let service = Service {
            dir,
            ca,
            url: pg.url.clone(),
            ks: kc.endpoint.clone(),
            pool,
        };
        Self {
            keys,
            sim,
            pg,
            service,
        }
    }
}
