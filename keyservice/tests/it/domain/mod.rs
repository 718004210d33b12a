//! Domain-layer tests of the key service against real PostgreSQL and SQLite (the same test
//! body on both), and the root-key providers, including PKCS#11 with SoftHSM2.

pub(crate) use std::{path::Path, sync::Arc, time::Duration};

pub(crate) use keyservice::{
    domain::{
        DomainSettings, Error, GenerateItem, KeyManager, KeyPurpose, KeyState, KeyVersionRef,
        KeyVersionState, NewKey, RotationPolicy, UnwrapItem, kek_aad,
    },
    rootkey::{RootKey, SoftwareRootKey},
    store::{Store, queries},
};
pub(crate) use xtask::testdb::{TestPostgres, TestSqlite};
pub(crate) use zeroize::Zeroizing;

pub(crate) const REFRESH: Duration = Duration::from_millis(200);

pub(crate) fn settings() -> DomainSettings {
    DomainSettings {
        refresh_interval: REFRESH,
        maintenance_interval: None,
        min_deletion_waiting_period: Duration::from_secs(1),
        min_rotation_period: Duration::from_secs(1),
        ..DomainSettings::default()
    }
}

pub(crate) fn software_root() -> Arc<dyn RootKey> {
    let mut key = Zeroizing::new([0u8; 32]);
    rand::RngCore::fill_bytes(&mut rand::rng(), key.as_mut());
    Arc::new(SoftwareRootKey::new(key, "test"))
}

pub(crate) async fn manager(url: &str, root: Arc<dyn RootKey>) -> KeyManager {
    let store = Store::open(url, 4).expect("store opens");
    KeyManager::open(store, root, settings())
        .await
        .expect("manager opens")
}

pub(crate) fn new_key(id: &str) -> NewKey {
    NewKey {
        id: id.into(),
        purpose: KeyPurpose::EncryptDecrypt,
        rotation_policy: RotationPolicy::default(),
    }
}

pub(crate) fn version(id: &str, n: u32) -> KeyVersionRef {
    KeyVersionRef {
        key_id: id.into(),
        version: n,
    }
}

/// Whether `needle` occurs in `haystack` (searching raw bytes for key material).
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Runs one async test body against a fresh PostgreSQL database and a fresh SQLite file.
macro_rules! both_backends {
    ($body:ident, $pg:ident, $sqlite:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $pg() {
            let db = TestPostgres::new().expect("test PostgreSQL");
            $body(&db.url).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            let db = TestSqlite::new().expect("test SQLite");
            $body(&db.url).await;
        }
    };
}

mod data_keys;
mod lifecycle;
mod replicas;
mod root_keys;
mod storage;

/// Waits until the clock has passed `when` (a key's rotation or deletion time), which the
/// domain compares with the same clock.
pub(crate) async fn until_past(what: &str, when: Option<chrono::DateTime<chrono::Utc>>) {
    let when = when.expect("the key has the time");
    testkit::eventually(what, Duration::from_secs(10), || async {
        chrono::Utc::now() > when
    })
    .await
}
