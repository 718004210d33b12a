//! The real key service in-process (`keyservice::server::run` on `127.0.0.1:0`) with what it
//! needs made here: a server certificate from the caller's CA, a root key file, a policy, a
//! file audit sink and a database. [`KeyService::start`] returns once it reports healthy.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use keyservice::{
    config::Config,
    server::{Listeners, ServeError, run},
};
use proto::keyservice::v1::{
    CreateKeyRequest, Key, KeyPurpose, RotateKeyRequest,
    key_admin_service_client::KeyAdminServiceClient,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use xtask::pki::{CertificateAuthority, IssuedCertificate};

use crate::eventually;

/// The identity the integration service presents to the key service.
pub const SERVICE: &str = "spiffe://webinar.local/integrationservice";
/// The administrator's identity.
pub const ADMIN: &str = "spiffe://webinar.local/admin";
/// The key the integration service wraps credentials with.
pub const CREDENTIALS_KEY: &str = "on24-credentials";

/// The policy every test key service starts with: the integration service may use the
/// credentials key and make, use and schedule the deletion of tenant keys (`tenant-*`), the
/// administrator may do everything.
pub const POLICY: &str = r#"
[[rule]]
identity = "spiffe://webinar.local/integrationservice"
operations = ["generate", "wrap", "unwrap", "rewrap"]
keys = ["on24-credentials"]

[[rule]]
identity = "spiffe://webinar.local/integrationservice"
operations = ["generate", "wrap", "unwrap", "rewrap", "admin:create", "admin:schedule_deletion"]
keys = ["tenant-*"]

[[rule]]
identity = "spiffe://webinar.local/admin"
operations = ["admin:*"]
keys = ["*"]
"#;

/// How long start-up may take before the test fails.
const START_WITHIN: Duration = Duration::from_secs(20);

/// A running key service.
#[derive(Debug)]
pub struct KeyService {
    /// Its gRPC address (mTLS; the server certificate names `localhost` and `127.0.0.1`).
    pub addr: SocketAddr,
    /// Its plain-text health address.
    pub health_addr: SocketAddr,
    /// `https://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The CA certificate the server's certificate chains to (and client certificates must).
    pub ca_pem: String,
    /// The audit log file.
    pub audit_path: PathBuf,
    /// Cancelling it shuts the service down.
    pub shutdown: CancellationToken,
    /// The service's `run`.
    pub task: tokio::task::JoinHandle<Result<(), ServeError>>,
    admin: IssuedCertificate,
    /// What `run` was started with, for [`KeyService::resume`].
    config: Config,
    dir: tempfile::TempDir,
    /// Shuts the service down when the value is dropped.
    _stop_on_drop: tokio_util::sync::DropGuard,
}

impl KeyService {
    /// Starts a key service whose server certificate comes from `ca`, on `database_url` (or a
    /// SQLite file of its own), with [`POLICY`]; `configure` may change the configuration
    /// before `run`. Returns once the health service answers.
    pub async fn start(
        ca: &CertificateAuthority,
        database_url: Option<&str>,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path();
        ca.server_cert(&["localhost", "127.0.0.1"])
            .expect("server cert")
            .write(path, "server")
            .expect("write server cert");
        ca.write_cert(&path.join("ca.crt")).expect("write ca");
        let root_key = path.join("root.key");
        keyservice::rootkey::generate_root_key_file(&root_key).expect("root key");
        let policy = path.join("policy.toml");
        std::fs::write(&policy, POLICY).expect("policy");
        let audit_path = path.join("audit.log");

        let mut config = Config::defaults().expect("defaults");
        config.tls.cert = path.join("server.crt");
        config.tls.key = path.join("server.key");
        config.tls.client_ca = path.join("ca.crt");
        config.root_key.source = format!("file:{}", root_key.display());
        config.database.url = match database_url {
            Some(url) => url.to_owned(),
            None => path.join("keys.sqlite").display().to_string(),
        };
        config.database.pool_size = 4;
        config.policy.file = policy;
        config.audit.sink = format!("file:{}", audit_path.display());
        config.audit.fsync = "never".into();
        config.hardening.lock_memory = false;
        configure(&mut config);

        let main = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let health = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = main.local_addr().expect("addr");
        let health_addr = health.local_addr().expect("addr");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(
            config.clone(),
            Listeners { main, health },
            shutdown.clone(),
        ));
        let service = Self {
            _stop_on_drop: shutdown.clone().drop_guard(),
            addr,
            health_addr,
            endpoint: format!("https://127.0.0.1:{}", addr.port()),
            ca_pem: ca.cert_pem.clone(),
            audit_path,
            shutdown,
            task,
            admin: ca.client_cert_for("admin", ADMIN).expect("admin cert"),
            config,
            dir,
        };
        service.wait_healthy().await;
        service
    }

    /// What the integration service needs: a key service with the rate limit off and the
    /// credentials key created.
    pub async fn for_credentials(ca: &CertificateAuthority) -> Self {
        Self::for_credentials_with(ca, |_| {}).await
    }

    /// [`KeyService::for_credentials`] with `configure` applied too (e.g. a short deletion
    /// waiting period).
    pub async fn for_credentials_with(
        ca: &CertificateAuthority,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        let service = Self::start(ca, None, |c| {
            c.limits.rate_per_second = 0;
            configure(c);
        })
        .await;
        service.create_key(CREDENTIALS_KEY).await;
        service
    }

    async fn wait_healthy(&self) {
        let health = format!("http://{}", self.health_addr);
        eventually(
            "the key service to report healthy",
            START_WITHIN,
            || async {
                assert!(
                    !self.task.is_finished(),
                    "the key service stopped during start-up"
                );
                let channel = Endpoint::from_shared(health.clone())
                    .expect("endpoint")
                    .connect()
                    .await
                    .map_err(|e| e.to_string())?;
                HealthClient::new(channel)
                    .check(HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            },
        )
        .await
    }

    /// An mTLS channel presenting `client` (or no certificate at all).
    pub async fn channel_with(
        &self,
        client: Option<&IssuedCertificate>,
    ) -> Result<Channel, tonic::transport::Error> {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .domain_name("localhost");
        if let Some(client) = client {
            tls = tls.identity(Identity::from_pem(&client.cert_pem, &client.key_pem));
        }
        Endpoint::from_shared(self.endpoint.clone())
            .expect("endpoint")
            .tls_config(tls)?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .connect()
            .await
    }

    /// The administration API as [`ADMIN`].
    pub async fn admin(&self) -> KeyAdminServiceClient<Channel> {
        KeyAdminServiceClient::new(
            self.channel_with(Some(&self.admin))
                .await
                .expect("admin connects"),
        )
    }

    /// Creates the encryption key `key_id` as the administrator.
    pub async fn create_key(&self, key_id: &str) {
        self.admin()
            .await
            .create_key(CreateKeyRequest {
                key_id: key_id.into(),
                key: Some(Key {
                    purpose: KeyPurpose::EncryptDecrypt as i32,
                    ..Key::default()
                }),
            })
            .await
            .expect("create key");
    }

    /// Rotates `keys/<key_id>`; returns the new primary version.
    pub async fn rotate(&self, key_id: &str) -> u32 {
        self.admin()
            .await
            .rotate_key(RotateKeyRequest {
                name: format!("keys/{key_id}"),
            })
            .await
            .expect("rotate")
            .into_inner()
            .key_version
            .expect("version")
            .version
    }

    /// Stops the service as [`KeyService::stop`] does but keeps its folder (root key,
    /// database, audit log) and ports, so [`KeyService::resume`] brings the same service back:
    /// an outage as its clients see it.
    pub async fn pause(&mut self) {
        self.shutdown.cancel();
        let task = std::mem::replace(&mut self.task, tokio::spawn(async { Ok(()) }));
        let result = tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("the key service stops within the drain grace")
            .expect("key service task");
        result.expect("the key service ran without error");
    }

    /// Starts the service paused by [`KeyService::pause`] again on the same ports and returns
    /// once it reports healthy.
    pub async fn resume(&mut self) {
        let (addr, health_addr) = (self.addr, self.health_addr);
        // The ports were free a moment ago; a client's connection attempt cannot hold them.
        let main = eventually("the key service's port", START_WITHIN, || async {
            TcpListener::bind(addr).await.map_err(|e| e.to_string())
        })
        .await;
        let health = eventually("the key service's health port", START_WITHIN, || async {
            TcpListener::bind(health_addr)
                .await
                .map_err(|e| e.to_string())
        })
        .await;
        let shutdown = CancellationToken::new();
        self.task = tokio::spawn(run(
            self.config.clone(),
            Listeners { main, health },
            shutdown.clone(),
        ));
        self._stop_on_drop = shutdown.clone().drop_guard();
        self.shutdown = shutdown;
        self.wait_healthy().await;
    }

    /// The folder holding its certificates, root key, policy and audit log.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Cancels and waits for `run` to return cleanly. Returns the service's folder so the
    /// caller can inspect it after the service stopped.
    pub async fn stop(self) -> tempfile::TempDir {
        let Self {
            shutdown,
            task,
            dir,
            ..
        } = self;
        shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("the key service stops within the drain grace")
            .expect("key service task");
        result.expect("the key service ran without error");
        dir
    }
}
