//! A real key service for tests: a fresh dev PKI (rcgen), a root key file, a policy, a file
//! audit sink, the chosen database, and `keyservice::server::run` on `127.0.0.1:0` in-process.
//! Clients connect over real mTLS with certificates issued here.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use keyservice::{
    config::Config,
    server::{Listeners, run},
};
use proto::keyservice::v1::{
    key_admin_service_client::KeyAdminServiceClient, key_service_client::KeyServiceClient,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use xtask::pki::{CertificateAuthority, ClientIdentity, IssuedCertificate};

pub const SERVICE: &str = "spiffe://webinar.local/integrationservice";
pub const ADMIN: &str = "spiffe://webinar.local/admin";
/// Has a valid certificate but no rule in the policy.
pub const STRANGER: &str = "spiffe://webinar.local/crm/demo";
pub const KEY: &str = "keys/on24-credentials";

pub const POLICY: &str = r#"
[[rule]]
identity = "spiffe://webinar.local/integrationservice"
operations = ["generate", "wrap", "unwrap", "rewrap"]
keys = ["on24-credentials"]

[[rule]]
identity = "spiffe://webinar.local/admin"
operations = ["admin:*"]
keys = ["*"]
"#;

/// A running key service and what a client needs to reach it.
pub struct TestService {
    pub addr: SocketAddr,
    pub health_addr: SocketAddr,
    pub ca: CertificateAuthority,
    pub audit_path: PathBuf,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<Result<(), keyservice::server::ServeError>>,
    _dir: tempfile::TempDir,
}

/// Database for one test run: keeps the PostgreSQL database or SQLite file alive.
pub enum TestDb {
    Postgres(xtask::testdb::TestPostgres),
    Sqlite(xtask::testdb::TestSqlite),
}

impl TestDb {
    pub fn url(&self) -> &str {
        match self {
            Self::Postgres(db) => &db.url,
            Self::Sqlite(db) => &db.url,
        }
    }

    /// Both backends, PostgreSQL first.
    pub fn both() -> Vec<(&'static str, TestDb)> {
        vec![
            (
                "postgres",
                Self::Postgres(xtask::testdb::TestPostgres::new().expect("test postgres")),
            ),
            (
                "sqlite",
                Self::Sqlite(xtask::testdb::TestSqlite::new().expect("test sqlite")),
            ),
        ]
    }

    pub fn sqlite() -> TestDb {
        Self::Sqlite(xtask::testdb::TestSqlite::new().expect("test sqlite"))
    }
}

impl TestService {
    /// Starts a service on `db`; `tweak` may change the configuration first.
    pub async fn start(db: &TestDb, tweak: impl FnOnce(&mut Config)) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = CertificateAuthority::new("keyservice test client CA").expect("ca");
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
        let audit_path = dir.path().join("audit.log");

        let mut config = Config::defaults().expect("defaults");
        config.tls.cert = dir.path().join("server.crt");
        config.tls.key = dir.path().join("server.key");
        config.tls.client_ca = dir.path().join("ca.crt");
        config.root_key.source = format!("file:{}", root_key.display());
        config.database.url = db.url().to_owned();
        config.database.pool_size = 4;
        config.policy.file = policy;
        config.audit.sink = format!("file:{}", audit_path.display());
        config.audit.fsync = "never".into();
        config.hardening.lock_memory = false;
        tweak(&mut config);

        let main = TcpListener::bind("127.0.0.1:0").await.expect("bind main");
        let health = TcpListener::bind("127.0.0.1:0").await.expect("bind health");
        let addr = main.local_addr().expect("addr");
        let health_addr = health.local_addr().expect("addr");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(config, Listeners { main, health }, shutdown.clone()));
        let service = Self {
            addr,
            health_addr,
            ca,
            audit_path,
            shutdown,
            task,
            _dir: dir,
        };
        service.wait_ready().await;
        service
    }

    async fn wait_ready(&self) {
        use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
        for _ in 0..200 {
            assert!(
                !self.task.is_finished(),
                "the service stopped during startup"
            );
            if let Ok(channel) = Endpoint::from_shared(format!("http://{}", self.health_addr))
                .expect("endpoint")
                .connect()
                .await
            {
                let ok = HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .is_ok();
                if ok {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the service did not become healthy");
    }

    /// A client certificate for `uri` from this service's CA.
    pub fn cert_for(&self, uri: &str) -> IssuedCertificate {
        self.ca
            .client_cert_for("test client", uri)
            .expect("client cert")
    }

    /// An mTLS channel presenting `client` (or no certificate at all).
    pub async fn channel_with(
        &self,
        client: Option<&IssuedCertificate>,
    ) -> Result<Channel, tonic::transport::Error> {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca.cert_pem))
            .domain_name("localhost");
        if let Some(client) = client {
            tls = tls.identity(Identity::from_pem(&client.cert_pem, &client.key_pem));
        }
        Endpoint::from_shared(format!("https://{}", self.addr))
            .expect("endpoint")
            .tls_config(tls)?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .connect()
            .await
    }

    pub async fn channel(&self, uri: &str) -> Channel {
        self.channel_with(Some(&self.cert_for(uri)))
            .await
            .expect("mTLS connect")
    }

    pub async fn keys(&self, uri: &str) -> KeyServiceClient<Channel> {
        KeyServiceClient::new(self.channel(uri).await)
    }

    pub async fn admin(&self, uri: &str) -> KeyAdminServiceClient<Channel> {
        KeyAdminServiceClient::new(self.channel(uri).await)
    }

    /// Cancels and waits for `run` to return. Returns the temporary directory (audit log,
    /// certificates) so the caller can inspect it after the service stopped.
    pub async fn stop(self) -> tempfile::TempDir {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("service stops within the drain grace")
            .expect("service task");
        result.expect("service ran without error");
        self._dir
    }
}

/// An expired certificate for `uri` from the given CA.
pub fn expired_cert(ca: &CertificateAuthority, uri: &str) -> IssuedCertificate {
    ca.client_cert(&ClientIdentity {
        common_name: "expired".into(),
        uri: Some(uri.into()),
        expired: true,
    })
    .expect("expired cert")
}

/// Creates `keys/on24-credentials` as the admin.
pub async fn create_key(service: &TestService) {
    use proto::keyservice::v1::{CreateKeyRequest, Key, KeyPurpose};
    service
        .admin(ADMIN)
        .await
        .create_key(CreateKeyRequest {
            key_id: "on24-credentials".into(),
            key: Some(Key {
                purpose: KeyPurpose::EncryptDecrypt as i32,
                ..Key::default()
            }),
        })
        .await
        .expect("create key");
}
