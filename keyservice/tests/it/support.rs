//! A real key service for tests: `testkit::KeyService` (a root key file, the policy, a file
//! audit sink and `keyservice::server::run` on `127.0.0.1:0` in-process) on the chosen
//! database, with a fresh dev PKI whose client certificates the tests present over mTLS.

use keyservice::config::Config;
use proto::keyservice::v1::{
    key_admin_service_client::KeyAdminServiceClient, key_service_client::KeyServiceClient,
};
use tonic::transport::Channel;
use xtask::pki::{CertificateAuthority, ClientIdentity, IssuedCertificate};

pub use testkit::keyservice::{ADMIN, POLICY, SERVICE};
/// Has a valid certificate but no rule in the policy.
pub const STRANGER: &str = "spiffe://webinar.local/crm/demo";
pub const KEY: &str = "keys/on24-credentials";

/// A running key service (the test kit's) and the CA its clients' certificates come from.
/// Derefs to [`testkit::KeyService`] for its addresses, audit log and shutdown token.
pub struct TestService {
    pub ca: CertificateAuthority,
    service: testkit::KeyService,
}

impl std::ops::Deref for TestService {
    type Target = testkit::KeyService;
    fn deref(&self) -> &testkit::KeyService {
        &self.service
    }
}

pub use testkit::TestDb;

impl TestService {
    /// Starts a service on `db`; `tweak` may change the configuration first.
    pub async fn start(db: &TestDb, tweak: impl FnOnce(&mut Config)) -> Self {
        let ca = CertificateAuthority::new("keyservice test client CA").expect("ca");
        let service = testkit::KeyService::start(&ca, Some(db.url()), tweak).await;
        Self { ca, service }
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
        self.service.channel_with(client).await
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
        self.service.stop().await
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
