//! Test harness for the CRM-facing API: a real server on `127.0.0.1:0` over real TLS, with a
//! dev PKI from `xtask::pki`, a JWKS made from a generated EC key, and a tenant policy.

use std::os::unix::fs::PermissionsExt;
use std::{path::PathBuf, sync::Arc};

use jsonwebtoken::{Algorithm, EncodingKey, Header, jwk::Jwk};
use tokio_util::sync::CancellationToken;
use tonic::{
    Code, Status,
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Certificate, Channel, ClientTlsConfig, Identity},
};
use xtask::pki::{CertificateAuthority, IssuedCertificate};

use integrationservice::{
    config::Config,
    server::{Listeners, run_observed},
};

pub const ISSUER: &str = "https://idp.test";
pub const AUDIENCE: &str = "webinar-api";
pub const URI_A: &str = "spiffe://webinar.local/crm/tenant-a";
pub const URI_B: &str = "spiffe://webinar.local/crm/tenant-b";

/// A running server and what clients need to reach it.
pub struct Harness {
    pub ca: CertificateAuthority,
    pub grpc: std::net::SocketAddr,
    pub health: std::net::SocketAddr,
    pub signing_key: EncodingKey,
    pub shutdown: CancellationToken,
    /// Stands in for the key service's port; drop it to make the service unready.
    pub keyservice: Option<tokio::net::TcpListener>,
    server: tokio::task::JoinHandle<Result<(), integrationservice::server::ServerError>>,
    /// The server's engine, once assembled.
    engine: Arc<std::sync::OnceLock<integrationservice::domain::Engine>>,
    /// The access audit log (a file in the test's directory, unless `configure` changed it).
    pub audit_log: PathBuf,
    /// Its key, as `audit.key` names it (`file:/path`).
    pub audit_key: String,
    _dir: tempfile::TempDir,
}

const POLICY: &str = r#"
[[principal]]
id = "spiffe://webinar.local/crm/tenant-a"
tenants = ["tenant-a"]

[[principal]]
id = "spiffe://webinar.local/crm/tenant-b"
tenants = ["tenant-b"]

[[principal]]
id = "cn:legacy-crm"
tenants = ["tenant-b"]

[[principal]]
id = "jwt:crm-a"
tenants = ["tenant-a"]

[[principal]]
id = "spiffe://webinar.local/crm*"
tenants = ["tenant-c"]

[[principal]]
id = "spiffe://webinar.local/ops/admin"
tenants = ["tenant-a"]
admin = true
"#;

fn write(dir: &std::path::Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write test file");
    path
}

impl Harness {
    /// Starts a server that accepts mTLS (test CA) and JWT (test JWKS); the key service is a
    /// bare port (nothing that needs keys works) and the database a fresh SQLite file.
    pub async fn start() -> Self {
        let ca = CertificateAuthority::new("api test CA").expect("CA");
        Self::launch(ca, |_| {}).await
    }

    /// Starts a server with the test PKI, JWKS and policy, then lets `configure` change the
    /// configuration (key service, database, workers) before `run`.
    pub async fn launch(ca: CertificateAuthority, configure: impl FnOnce(&mut Config)) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        if let Ok(filter) = std::env::var("API_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let server = ca
            .server_cert(&["localhost", "127.0.0.1"])
            .expect("server cert");
        // An EC P-256 key from the PKI doubles as the token issuer's signing key.
        let signer = ca.client_cert_for("idp", "spiffe://idp").expect("signer");
        let signing_key = EncodingKey::from_ec_pem(signer.key_pem.as_bytes()).expect("EC key");
        let mut jwk = Jwk::from_encoding_key(&signing_key, Algorithm::ES256).expect("jwk");
        jwk.common.key_id = Some("k1".into());
        let jwks = serde_json::json!({ "keys": [jwk] }).to_string();

        let mut config = Config::defaults().expect("defaults");
        config.tls.cert_file = write(dir.path(), "server.crt", &server.cert_pem);
        config.tls.key_file = write(dir.path(), "server.key", &server.key_pem);
        config.tls.client_ca_file = write(dir.path(), "ca.crt", &ca.cert_pem);
        config.jwt.jwks_file = write(dir.path(), "jwks.json", &jwks);
        config.jwt.issuer = ISSUER.into();
        config.jwt.audience = AUDIENCE.into();
        config.jwt.leeway_seconds = 0;
        config.auth.policy_file = write(dir.path(), "policy.toml", POLICY);
        config.auth.allow_common_name = true;
        config.database.url = dir.path().join("db.sqlite").display().to_string();
        // The key client connects lazily; readiness only needs the port to accept.
        let keyservice = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        config.keyservice.endpoint = format!("https://{}", keyservice.local_addr().expect("addr"));
        let me = ca
            .client_cert_for(
                "integrationservice",
                "spiffe://webinar.local/integrationservice",
            )
            .expect("cert");
        config.keyservice.ca_file = config.tls.client_ca_file.clone();
        config.keyservice.cert_file = write(dir.path(), "is.crt", &me.cert_pem);
        config.keyservice.key_file = write(dir.path(), "is.key", &me.key_pem);
        config.workers.enabled = false;
        config.metrics_poll.enabled = false;
        let audit_log = dir.path().join("audit.log");
        let key_file = dir.path().join("audit.key");
        std::fs::write(&key_file, "ab".repeat(32)).expect("audit key");
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600))
            .expect("audit key mode");
        let audit_key = format!("file:{}", key_file.display());
        config.audit.sink = format!("file:{}", audit_log.display());
        config.audit.key = audit_key.clone();
        configure(&mut config);

        let listeners = Listeners {
            grpc: tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind"),
            health: tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind"),
        };
        let grpc = listeners.grpc.local_addr().expect("addr");
        let health = listeners.health.local_addr().expect("addr");
        let shutdown = CancellationToken::new();
        let engine = Arc::new(std::sync::OnceLock::new());
        let slot = engine.clone();
        let server = tokio::spawn(run_observed(
            config,
            listeners,
            shutdown.clone(),
            move |e| {
                let _ = slot.set(e.clone());
            },
        ));
        Self {
            ca,
            grpc,
            health,
            signing_key,
            shutdown,
            keyservice: Some(keyservice),
            server,
            engine,
            audit_log,
            audit_key,
            _dir: dir,
        }
    }

    fn tls(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca.cert_pem))
            .domain_name("localhost")
    }

    async fn connect(&self, tls: ClientTlsConfig) -> Channel {
        let endpoint = Channel::from_shared(format!("https://{}", self.grpc))
            .expect("uri")
            .tls_config(tls)
            .expect("tls");
        // The server task may still be starting.
        testkit::eventually(
            "the server to accept connections",
            std::time::Duration::from_secs(5),
            || endpoint.connect(),
        )
        .await
    }

    /// A channel authenticated by a client certificate.
    pub async fn mtls(&self, cert: &IssuedCertificate) -> Channel {
        let tls = self
            .tls()
            .identity(Identity::from_pem(&cert.cert_pem, &cert.key_pem));
        self.connect(tls).await
    }

    /// A channel for the tenant-A CRM identity.
    pub async fn tenant_a(&self) -> Channel {
        let cert = self.ca.client_cert_for("crm-a", URI_A).expect("cert");
        self.mtls(&cert).await
    }

    /// A channel for the administrator of tenant A (`admin = true` in the policy).
    pub async fn admin_a(&self) -> Channel {
        let cert = self
            .ca
            .client_cert_for("ops-admin", "spiffe://webinar.local/ops/admin")
            .expect("cert");
        self.mtls(&cert).await
    }

    /// A channel for the tenant-B CRM identity.
    pub async fn tenant_b(&self) -> Channel {
        let cert = self.ca.client_cert_for("crm-b", URI_B).expect("cert");
        self.mtls(&cert).await
    }

    /// A channel with no client certificate.
    pub async fn anonymous(&self) -> Channel {
        self.connect(self.tls()).await
    }

    /// A signed token with the given claims.
    pub fn token(&self, claims: serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(&header, &claims, &self.signing_key).expect("sign")
    }

    /// Standard valid claims for `sub`, expiring in an hour.
    pub fn claims(sub: &str) -> serde_json::Value {
        serde_json::json!({
            "sub": sub, "iss": ISSUER, "aud": AUDIENCE,
            "exp": now() + 3600, "iat": now(),
        })
    }

    /// The server's engine (assembled before the server accepts connections), for tests
    /// that observe its signals.
    pub fn engine(&self) -> &integrationservice::domain::Engine {
        self.engine.get().expect("the server assembled its engine")
    }

    /// Stops the server and checks it exits cleanly.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(10), self.server)
            .await
            .expect("server stops")
            .expect("server task");
        outcome.expect("server exits cleanly");
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(pub Arc<str>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        let value = MetadataValue::try_from(format!("Bearer {}", self.0)).expect("ascii");
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}

/// A channel that sends a bearer token.
pub fn with_token(channel: Channel, token: &str) -> InterceptedService<Channel, Bearer> {
    InterceptedService::new(channel, Bearer(Arc::from(token)))
}

/// Asserts INVALID_ARGUMENT with a BadRequest naming `field`.
pub fn assert_bad_field(status: &Status, field: &str) {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let bad = status.get_details_bad_request().expect("BadRequest detail");
    let fields: Vec<&str> = bad
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert!(fields.contains(&field), "expected `{field}` in {fields:?}");
}

/// Asserts an `ErrorInfo` with `reason`.
pub fn assert_reason(status: &Status, code: Code, reason: &str) {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), code, "{status:?}");
    let info = status.get_details_error_info().expect("ErrorInfo detail");
    assert_eq!(info.reason, reason);
    assert_eq!(info.domain, "webinar.local");
}

/// Runs an async API test body, which takes a database URL, on PostgreSQL and on SQLite (tests
/// `$name::postgres` and `$name::sqlite`).
#[macro_export]
macro_rules! api_both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = xtask::testdb::TestPostgres::new().expect("postgres");
                $body(db.url.clone()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = xtask::testdb::TestSqlite::new().expect("sqlite");
                $body(db.url.clone()).await;
            }
        }
    };
}
