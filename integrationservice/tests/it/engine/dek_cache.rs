//! Cached data keys against the real key service: a data key cached from a key version that
//! is then disabled keeps decrypting only until its entry expires (`dek_cache.max_age_seconds`,
//! the documented bound), never indefinitely.

use std::time::{Duration, Instant};

use integrationservice::testing::{DekCache, Envelope, KeyClient, KeyClientConfig};
use proto::keyservice::v1::{KeyVersionState, UpdateKeyVersionRequest};
use testkit::keyservice::{CREDENTIALS_KEY, SERVICE};
use xtask::pki::CertificateAuthority;
use zeroize::Zeroizing;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_key_version_stops_decrypting_within_the_cache_age() {
    let ca = CertificateAuthority::new("dek cache CA").expect("ca");
    let keys = testkit::KeyService::for_credentials(&ca).await;
    let me = ca
        .client_cert_for("integrationservice", SERVICE)
        .expect("cert");
    let config = KeyClientConfig {
        endpoint: keys.endpoint.clone(),
        domain_name: Some("localhost".into()),
        ca_pem: ca.cert_pem.clone(),
        cert_pem: me.cert_pem.clone(),
        key_pem: Zeroizing::new(me.key_pem.clone()),
        key_name: format!("keys/{CREDENTIALS_KEY}"),
        timeout: Duration::from_secs(5),
    };
    let max_age = Duration::from_secs(2);
    let cached = Envelope::new(
        KeyClient::connect_lazy(&config).expect("key client"),
        DekCache::new(16, max_age),
    );
    let uncached = Envelope::new(
        KeyClient::connect_lazy(&config).expect("key client"),
        DekCache::disabled(),
    );
    let aad = b"tenant-a credentials";
    let sealed = cached.seal(aad, b"on24 secret").await.expect("seal");
    let sealed_at = Instant::now();
    assert_eq!(sealed.key_version, 1);

    // The primary version cannot be disabled: rotate, then disable version 1.
    keys.rotate(CREDENTIALS_KEY).await;
    keys.admin()
        .await
        .update_key_version(UpdateKeyVersionRequest {
            name: format!("keys/{CREDENTIALS_KEY}/versions/1"),
            state: KeyVersionState::Disabled as i32,
        })
        .await
        .expect("disable version 1");
    assert!(
        uncached.open(aad, &sealed).await.is_err(),
        "control: the key service refuses the disabled version"
    );
    testkit::eventually(
        "the cached data key to stop decrypting",
        max_age + Duration::from_secs(5),
        || async { cached.open(aad, &sealed).await.is_err() },
    )
    .await;
    assert!(
        sealed_at.elapsed() < max_age + Duration::from_secs(5),
        "the cached key outlived its bound"
    );
}
