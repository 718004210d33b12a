//! Crash safety of the real `integrationservice` binary: 2,000 registrations accepted over
//! the batch RPC, the process killed with SIGKILL twice while deliveries are in flight and
//! restarted on the same database; in the end every registration is DELIVERED and the ON24
//! simulator holds exactly one registrant per email (no loss, no duplicate). Runs on
//! PostgreSQL and on SQLite, with the real key service (in-process, mTLS) and the simulator
//! (in-process, HTTP, with latency so delivery lasts a few seconds).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use prost_types::Timestamp;
use proto::webinar::v1::{
    provider_config_service_client::ProviderConfigServiceClient,
    registration_service_client::RegistrationServiceClient,
    webinar_service_client::WebinarServiceClient, *,
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use xtask::pki::CertificateAuthority;

use crate::engine::harness::{CLIENT_ID, Db, KeyService, TOKEN_KEY, TOKEN_SECRET};

const TOTAL: usize = 2000;
const CRM: &str = "spiffe://webinar.local/crm/demo";
const POLICY: &str = r#"
[[principal]]
id = "spiffe://webinar.local/crm/demo"
tenants = ["demo"]
"#;

/// Everything a (re)start of the binary needs, written once into a temporary directory.
pub(crate) struct Service {
    dir: tempfile::TempDir,
    ca: CertificateAuthority,
    database_url: String,
    keyservice_endpoint: String,
}

/// A running child process and the address it serves on.
pub(crate) struct Running {
    child: Child,
    grpc: std::net::SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        // A failed assertion must not leave the service running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write test file");
    path
}

/// A port that was free a moment ago (each start gets fresh ports, so a socket left in
/// TIME_WAIT by the killed process cannot stop the restart).
fn free_port() -> std::net::SocketAddr {
    let port = xtask::ports::free_port().expect("free loopback port");
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

impl Service {
    pub(crate) fn new(keys: &KeyService, database_url: String) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = CertificateAuthority::new("crash test CA").expect("CA");
        let server = ca
            .server_cert(&["localhost", "127.0.0.1"])
            .expect("server cert");
        let kc = &keys.client_config;
        write(dir.path(), "server.crt", &server.cert_pem);
        write(dir.path(), "server.key", &server.key_pem);
        write(dir.path(), "ca.crt", &ca.cert_pem);
        write(dir.path(), "policy.toml", POLICY);
        write(dir.path(), "ks-ca.crt", &kc.ca_pem);
        write(dir.path(), "is.crt", &kc.cert_pem);
        write(dir.path(), "is.key", &kc.key_pem);
        // Page tokens must survive the restarts (the listing is read across processes).
        write(dir.path(), "page.key", &"k".repeat(48));
        Self {
            dir,
            ca,
            database_url,
            keyservice_endpoint: kc.endpoint.clone(),
        }
    }

    pub(crate) fn start(&self) -> Running {
        let grpc = free_port();
        let health = free_port();
        let d = self.dir.path().display();
        // Short lease: jobs claimed by a killed process are taken over after 2 s, not 60 s.
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
[api]
page_token_key_file = "{d}/page.key"
[database]
url = "{url}"
max_connections = 8
[keyservice]
endpoint = "{ks}"
server_name = "localhost"
ca_file = "{d}/ks-ca.crt"
cert_file = "{d}/is.crt"
key_file = "{d}/is.key"
[workers]
enabled = true
concurrency = 16
per_tenant_concurrency = 16
backoff_base_ms = 20
backoff_max_ms = 200
lease_seconds = 2
poll_interval_ms = 50
[metrics_poll]
enabled = false
[on24]
request_timeout_ms = 5000
allow_loopback = true
"#,
            url = self.database_url,
            ks = self.keyservice_endpoint,
        );
        let config_path = write(self.dir.path(), "integrationservice.toml", &config);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("service.log"))
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_integrationservice"))
            .arg("--config")
            .arg(&config_path)
            .arg("serve")
            .env_remove("INTEGRATIONSERVICE_CONFIG")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn integrationservice");
        Running { child, grpc }
    }

    /// Everything the process wrote to stdout and stderr (its logs).
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("service.log")).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("service.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// A CRM channel to the running process, retried while it starts (migrations included).
    pub(crate) async fn connect(&self, running: &mut Running) -> Channel {
        let crm = self.ca.client_cert_for("crm-demo", CRM).expect("cert");
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca.cert_pem))
            .identity(Identity::from_pem(&crm.cert_pem, &crm.key_pem))
            .domain_name("localhost");
        let endpoint = Channel::from_shared(format!("https://{}", running.grpc))
            .expect("uri")
            .tls_config(tls)
            .expect("tls")
            .timeout(Duration::from_secs(30));
        let up = testkit::wait_for(Duration::from_secs(60), || {
            if let Some(status) = running.child.try_wait().expect("child status") {
                panic!("service exited with {status}:\n{}", self.log_tail());
            }
            let endpoint = endpoint.clone();
            async move { endpoint.connect().await }
        })
        .await;
        up.unwrap_or_else(|last| {
            panic!(
                "service did not come up ({}):\n{}",
                last.unwrap_or_default(),
                self.log_tail()
            )
        })
    }
}

/// The process that holds ON24 secrets and data keys refuses core dumps before it reads any of
/// them, and says whether it could lock its memory (as root it can; elsewhere it may not).
fn assert_hardened(service: &Service, running: &Running) {
    let pid = running.child.id();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .expect("core limit line");
    let soft_hard: Vec<&str> = core.split_whitespace().skip(4).take(2).collect();
    assert_eq!(soft_hard, ["0", "0"], "{core}");
    let log = std::fs::read_to_string(service.dir.path().join("service.log")).expect("log");
    let line = log
        .lines()
        .find(|l| l.contains("process hardening applied"))
        .unwrap_or_else(|| panic!("no hardening line in the log:\n{}", service.log_tail()));
    assert!(line.contains("\"not_dumpable\":true"), "{line}");
    assert!(line.contains("\"no_core\":true"), "{line}");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let locked_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmLck");
    assert_eq!(
        line.contains("\"memory_locked\":true"),
        locked_kb > 0,
        "log says {line}, VmLck {locked_kb} kB"
    );
}

/// Emails of the event's registrants as ON24 lists them (soft-deleted included).
async fn on24_registrants(sim: &on24sim::SimHandle, event: i64) -> Vec<String> {
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/client/{CLIENT_ID}/event/{event}/registrant?userstatus=any",
            sim.base_url
        ))
        .header("accessTokenKey", TOKEN_KEY)
        .header("accessTokenSecret", TOKEN_SECRET)
        .send()
        .await
        .expect("list registrants")
        .error_for_status()
        .expect("registrants status")
        .json()
        .await
        .expect("registrants json");
    body["registrants"]
        .as_array()
        .expect("registrants array")
        .iter()
        .map(|r| r["email"].as_str().expect("email").to_ascii_lowercase())
        .collect()
}

/// How many registrant POSTs the simulator has answered so far.
async fn posts(sim: &on24sim::SimHandle) -> usize {
    sim.control()
        .journal()
        .await
        .expect("journal")
        .iter()
        .filter(|e| e.method == "POST" && e.path.ends_with("/registrant"))
        .count()
}

/// Waits until the simulator has seen at least `n` registrant POSTs.
async fn wait_posts(sim: &on24sim::SimHandle, n: usize) -> usize {
    // The journal grows to thousands of entries: reading it is not free, so not too often.
    testkit::eventually_every(
        format!("delivery to reach {n} registrant calls"),
        Duration::from_secs(120),
        Duration::from_millis(50),
        || async {
            let seen = posts(sim).await;
            (seen >= n).then_some(seen)
        },
    )
    .await
}

/// Every registration of the webinar, all pages.
async fn list_all(
    regs: &mut RegistrationServiceClient<Channel>,
    parent: &str,
) -> Vec<Registration> {
    let mut out = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = regs
            .list_registrations(ListRegistrationsRequest {
                parent: parent.into(),
                page_size: 1000,
                page_token,
                ..Default::default()
            })
            .await
            .expect("list registrations")
            .into_inner();
        out.extend(page.registrations);
        if page.next_page_token.is_empty() {
            return out;
        }
        page_token = page.next_page_token;
    }
}

async fn crash_and_restart(db: Db) {
    let keys = KeyService::start().await;
    let sim = on24sim::Simulator::start(on24sim::SimConfig::with_account(
        CLIENT_ID,
        TOKEN_KEY,
        TOKEN_SECRET,
    ))
    .await
    .expect("simulator");
    let (_pg, _lite, url) = match db {
        Db::Postgres => {
            let pg = xtask::testdb::TestPostgres::new().expect("test postgres");
            let url = pg.url.clone();
            (Some(pg), None, url)
        }
        Db::Sqlite => {
            let lite = xtask::testdb::TestSqlite::new().expect("test sqlite");
            let url = lite.url.clone();
            (None, Some(lite), url)
        }
    };
    let service = Service::new(&keys, url);
    let mut running = service.start();
    let channel = service.connect(&mut running).await;
    assert_hardened(&service, &running);

    ProviderConfigServiceClient::new(channel.clone())
        .put_on24_credentials(PutOn24CredentialsRequest {
            on24_credentials: Some(On24Credentials {
                name: "tenants/demo/on24Credentials".into(),
                client_id: CLIENT_ID.to_string(),
                access_token_key: TOKEN_KEY.into(),
                access_token_secret: TOKEN_SECRET.into(),
                base_url: sim.base_url.clone(),
                ..Default::default()
            }),
            live_check: true,
            validate_only: false,
        })
        .await
        .expect("put credentials");
    let mut webinars = WebinarServiceClient::new(channel.clone());
    let webinar = webinars
        .create_webinar(CreateWebinarRequest {
            parent: "tenants/demo".into(),
            webinar: Some(Webinar {
                crm_reference_id: "crash-event".into(),
                title: "Crash safety".into(),
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
    let event = testkit::eventually("webinar created at ON24", Duration::from_secs(60), || {
        let mut webinars = webinars.clone();
        let name = webinar.name.clone();
        async move {
            let w = webinars
                .get_webinar(GetWebinarRequest { name })
                .await
                .expect("get webinar")
                .into_inner()
                .webinar
                .expect("webinar");
            (w.on24_event_id > 0).then_some(w.on24_event_id)
        }
    })
    .await;

    // Latency on every ON24 call so the 2,000 deliveries take seconds, not milliseconds.
    sim.control()
        .set_faults(&on24sim::FaultConfig {
            latency_ms: 25,
            jitter_ms: 10,
            ..on24sim::FaultConfig::default()
        })
        .await
        .expect("latency");

    let mut regs = RegistrationServiceClient::new(channel);
    for batch in 0..TOTAL / 1000 {
        let requests = (batch * 1000..(batch + 1) * 1000)
            .map(|i| CreateRegistrationRequest {
                parent: String::new(),
                registration: Some(Registration {
                    crm_reference_id: format!("contact-{i}"),
                    email: format!("person{i}@example.com"),
                    first_name: format!("First{i}"),
                    last_name: "Crash".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .collect();
        let results = regs
            .batch_create_registrations(BatchCreateRegistrationsRequest {
                parent: webinar.name.clone(),
                requests,
            })
            .await
            .expect("batch")
            .into_inner()
            .results;
        assert_eq!(results.len(), 1000);
        assert!(results.iter().all(|r| r.created), "every row accepted");
    }

    // Two SIGKILLs while deliveries are in flight, each followed by a restart on the same
    // database. Each kill must land before delivery is complete, or the test proves nothing.
    for threshold in [TOTAL / 5, TOTAL / 2] {
        let seen = wait_posts(&sim, threshold).await;
        running.child.kill().expect("SIGKILL");
        running.child.wait().expect("reap");
        let at_on24 = on24_registrants(&sim, event).await.len();
        assert!(
            at_on24 < TOTAL,
            "killed after delivery was complete ({at_on24} at ON24, {seen} calls)"
        );
        running = service.start();
        let _ = service.connect(&mut running).await;
    }
    let channel = service.connect(&mut running).await;
    let regs = RegistrationServiceClient::new(channel);

    // Listing 2,000 registrations competes with the deliveries: every 200 ms is enough.
    let all = testkit::wait_for_every(Duration::from_secs(180), Duration::from_millis(200), || {
        let mut regs = regs.clone();
        let name = webinar.name.clone();
        async move {
            let all = list_all(&mut regs, &name).await;
            let delivered = all
                .iter()
                .filter(|r| r.status == RegistrationStatus::Delivered as i32)
                .count();
            if all.len() == TOTAL && delivered == TOTAL {
                Ok(all)
            } else {
                Err(format!("{delivered} of {} delivered", all.len()))
            }
        }
    })
    .await
    .unwrap_or_else(|last| {
        panic!(
            "not all delivered in time ({}):\n{}",
            last.unwrap_or_default(),
            service.log_tail()
        )
    });

    // Our side: 2,000 DELIVERED registrations, each with its own ON24 eventuserid.
    assert_eq!(all.len(), TOTAL);
    let ids: HashSet<i64> = all.iter().map(|r| r.on24_event_user_id).collect();
    assert_eq!(ids.len(), TOTAL, "one ON24 registrant per registration");
    assert!(!ids.contains(&0));
    // ON24's side: exactly the 2,000 emails, none twice, none missing.
    let emails = on24_registrants(&sim, event).await;
    assert_eq!(emails.len(), TOTAL, "registrants at ON24");
    let distinct: HashSet<&str> = emails.iter().map(String::as_str).collect();
    assert_eq!(distinct.len(), TOTAL, "no duplicate registrant at ON24");
    for i in 0..TOTAL {
        assert!(distinct.contains(format!("person{i}@example.com").as_str()));
    }
    // Deliveries interrupted by a kill are sent again (at least once), never lost.
    assert!(posts(&sim).await >= TOTAL);
}

crate::both_backends!(crash_twice_during_delivery, crash_and_restart);
