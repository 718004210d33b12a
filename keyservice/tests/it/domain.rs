//! Domain-layer tests of the key service against real PostgreSQL and SQLite (the same test
//! body on both), and the PKCS#11 root key against SoftHSM2.

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use keyservice::{
    domain::{
        DomainSettings, Error, GenerateItem, KeyManager, KeyPurpose, KeyState, KeyVersionRef,
        KeyVersionState, NewKey, RotationPolicy, UnwrapItem, kek_aad,
    },
    rootkey::{RootKey, SoftwareRootKey},
    store::{Store, queries},
};
use xtask::testdb::{TestPostgres, TestSqlite};
use zeroize::Zeroizing;

const REFRESH: Duration = Duration::from_millis(200);

fn settings() -> DomainSettings {
    DomainSettings {
        refresh_interval: REFRESH,
        maintenance_interval: None,
        min_deletion_waiting_period: Duration::from_secs(1),
        min_rotation_period: Duration::from_secs(1),
        ..DomainSettings::default()
    }
}

fn software_root() -> Arc<dyn RootKey> {
    let mut key = Zeroizing::new([0u8; 32]);
    rand::RngCore::fill_bytes(&mut rand::rng(), key.as_mut());
    Arc::new(SoftwareRootKey::new(key, "test"))
}

async fn manager(url: &str, root: Arc<dyn RootKey>) -> KeyManager {
    let store = Store::open(url, 4).expect("store opens");
    KeyManager::open(store, root, settings())
        .await
        .expect("manager opens")
}

fn new_key(id: &str) -> NewKey {
    NewKey {
        id: id.into(),
        purpose: KeyPurpose::EncryptDecrypt,
        rotation_policy: RotationPolicy::default(),
    }
}

fn version(id: &str, n: u32) -> KeyVersionRef {
    KeyVersionRef {
        key_id: id.into(),
        version: n,
    }
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

async fn rotate_then_unwrap_old_and_new(url: &str) {
    let km = manager(url, software_root()).await;
    let key = km
        .create_key(new_key("on24-credentials"))
        .await
        .expect("creates");
    assert_eq!((key.primary_version, key.state), (1, KeyState::Enabled));
    let aad = b"tenant=acme;purpose=on24";

    let generated = km
        .generate_data_key("on24-credentials", aad)
        .await
        .expect("generates");
    assert_eq!(generated.plaintext.len(), 32);
    assert_eq!(generated.version, version("on24-credentials", 1));
    let wrapped_v1 = km
        .wrap("on24-credentials", b"caller dek", aad)
        .await
        .expect("wraps");

    let (plain, from) = km
        .unwrap(&generated.wrapped_key, aad)
        .await
        .expect("unwraps");
    assert_eq!(plain.as_slice(), generated.plaintext.as_slice());
    assert_eq!(from.version, 1);
    assert!(matches!(
        km.unwrap(&generated.wrapped_key, b"tenant=other").await,
        Err(Error::CannotUnwrap)
    ));
    let mut flipped = generated.wrapped_key.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(matches!(
        km.unwrap(&flipped, aad).await,
        Err(Error::CannotUnwrap)
    ));

    let (key, new_version) = km.rotate_key("on24-credentials").await.expect("rotates");
    assert_eq!((key.primary_version, new_version.reference.version), (2, 2));

    let (plain, from) = km
        .unwrap(&wrapped_v1.wrapped_key, aad)
        .await
        .expect("old version unwraps");
    assert_eq!((plain.as_slice(), from.version), (&b"caller dek"[..], 1));
    let wrapped_v2 = km
        .wrap("on24-credentials", b"newer dek", aad)
        .await
        .expect("wraps");
    assert_eq!(wrapped_v2.version.version, 2);
    let (plain, _) = km
        .unwrap(&wrapped_v2.wrapped_key, aad)
        .await
        .expect("new version unwraps");
    assert_eq!(plain.as_slice(), b"newer dek");

    // Rewrap moves to the primary, keeps the plaintext and the associated data binding.
    let rewrapped = km
        .rewrap(&generated.wrapped_key, aad)
        .await
        .expect("rewraps");
    assert_eq!(rewrapped.version, version("on24-credentials", 2));
    let (plain, from) = km
        .unwrap(&rewrapped.wrapped_key, aad)
        .await
        .expect("unwraps");
    assert_eq!(
        (plain.as_slice(), from.version),
        (generated.plaintext.as_slice(), 2)
    );
    assert!(matches!(
        km.unwrap(&rewrapped.wrapped_key, b"").await,
        Err(Error::CannotUnwrap)
    ));
    assert!(matches!(
        km.rewrap(&generated.wrapped_key, b"wrong").await,
        Err(Error::CannotUnwrap)
    ));

    assert!(matches!(
        km.wrap("missing", b"k", b"").await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        km.wrap("on24-credentials", b"", b"").await,
        Err(Error::InvalidArgument { .. })
    ));
    let big_aad = vec![0u8; km.settings().max_associated_data_len + 1];
    assert!(matches!(
        km.unwrap(&wrapped_v2.wrapped_key, &big_aad).await,
        Err(Error::InvalidArgument { .. })
    ));
}
both_backends!(
    rotate_then_unwrap_old_and_new,
    rotate_unwrap_postgres,
    rotate_unwrap_sqlite
);

async fn restart_loads_every_version(url: &str) {
    let root = software_root();
    let km = manager(url, root.clone()).await;
    km.create_key(new_key("many")).await.expect("creates");
    km.create_key(new_key("gone")).await.expect("creates");
    let mut wrapped = Vec::new();
    for n in 1..=12u8 {
        wrapped.push(km.wrap("many", &[n; 8], &[n]).await.expect("wraps"));
        km.rotate_key("many").await.expect("rotates");
    }
    km.schedule_key_deletion("gone", None)
        .await
        .expect("schedules");
    drop(km);
    // A restarted replica unseals all 13 versions (in one query) and unwraps each.
    let km = manager(url, root).await;
    for (i, w) in wrapped.iter().enumerate() {
        let n = i as u8 + 1;
        let (plain, from) = km.unwrap(&w.wrapped_key, &[n]).await.expect("unwraps");
        assert_eq!(
            (plain.as_slice(), from.version),
            (&[n; 8][..], u32::from(n))
        );
    }
    assert_eq!(
        km.wrap("many", b"k", b"")
            .await
            .expect("wraps")
            .version
            .version,
        13
    );
    // A wrong root key stops the start instead of serving with unusable keys.
    let store = Store::open(url, 2).expect("store");
    assert!(
        KeyManager::open(store, software_root(), settings())
            .await
            .is_err()
    );
}
both_backends!(
    restart_loads_every_version,
    restart_postgres,
    restart_sqlite
);

async fn min_decryption_and_disabled_versions_refuse(url: &str) {
    let km = manager(url, software_root()).await;
    km.create_key(new_key("k")).await.expect("creates");
    let v1 = km.wrap("k", b"dek", b"ctx").await.expect("wraps");
    km.rotate_key("k").await.expect("rotates");
    let v2 = km.wrap("k", b"dek2", b"ctx").await.expect("wraps");

    let key = km.set_min_decryption_version("k", 2).await.expect("sets");
    assert_eq!(key.min_decryption_version, 2);
    assert!(matches!(
        km.unwrap(&v1.wrapped_key, b"ctx").await,
        Err(Error::CannotUnwrap)
    ));
    km.unwrap(&v2.wrapped_key, b"ctx")
        .await
        .expect("v2 still unwraps");
    assert!(matches!(
        km.set_min_decryption_version("k", 3).await,
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        km.set_min_decryption_version("k", 0).await,
        Err(Error::InvalidArgument { .. })
    ));
    km.set_min_decryption_version("k", 1)
        .await
        .expect("lowers again");
    km.unwrap(&v1.wrapped_key, b"ctx")
        .await
        .expect("v1 unwraps again");

    let disabled = km
        .update_key_version(&version("k", 1), KeyVersionState::Disabled)
        .await
        .expect("disables");
    assert_eq!(disabled.state, KeyVersionState::Disabled);
    assert!(matches!(
        km.unwrap(&v1.wrapped_key, b"ctx").await,
        Err(Error::CannotUnwrap)
    ));
    assert!(matches!(
        km.rewrap(&v1.wrapped_key, b"ctx").await,
        Err(Error::CannotUnwrap)
    ));
    assert!(matches!(
        km.update_key_version(&version("k", 2), KeyVersionState::Disabled)
            .await,
        Err(Error::FailedPrecondition(_))
    ));
    assert!(matches!(
        km.update_key_version(&version("k", 9), KeyVersionState::Disabled)
            .await,
        Err(Error::NotFound(_))
    ));
    km.update_key_version(&version("k", 1), KeyVersionState::Enabled)
        .await
        .expect("enables");
    km.unwrap(&v1.wrapped_key, b"ctx")
        .await
        .expect("v1 unwraps after enabling");

    let (_, versions) = km.get_key("k").await.expect("gets");
    assert_eq!(
        versions
            .iter()
            .map(|v| v.reference.version)
            .collect::<Vec<_>>(),
        [1, 2]
    );
}
both_backends!(
    min_decryption_and_disabled_versions_refuse,
    min_version_postgres,
    min_version_sqlite
);

async fn deletion_waiting_period_honoured(url: &str) {
    let km = manager(url, software_root()).await;
    km.create_key(new_key("doomed")).await.expect("creates");
    let wrapped = km.wrap("doomed", b"dek", b"").await.expect("wraps");

    assert!(matches!(
        km.schedule_key_deletion("doomed", Some(Duration::from_millis(500)))
            .await,
        Err(Error::InvalidArgument { .. })
    ));
    let key = km
        .schedule_key_deletion("doomed", Some(Duration::from_secs(1)))
        .await
        .expect("schedules");
    assert_eq!(key.state, KeyState::DeleteScheduled);
    assert!(key.delete_time.is_some());
    assert!(matches!(
        km.generate_data_key("doomed", b"").await,
        Err(Error::FailedPrecondition(_))
    ));
    assert!(matches!(
        km.unwrap(&wrapped.wrapped_key, b"").await,
        Err(Error::CannotUnwrap)
    ));
    assert!(matches!(
        km.rotate_key("doomed").await,
        Err(Error::FailedPrecondition(_))
    ));

    // Cancelling within the waiting period restores everything.
    let key = km.cancel_key_deletion("doomed").await.expect("cancels");
    assert_eq!((key.state, key.delete_time), (KeyState::Enabled, None));
    km.unwrap(&wrapped.wrapped_key, b"")
        .await
        .expect("unwraps again");

    km.schedule_key_deletion("doomed", Some(Duration::from_secs(1)))
        .await
        .expect("schedules");
    assert_eq!(
        km.purge_deleted_keys().await.expect("purges"),
        0,
        "waiting period not over"
    );
    let (key, _) = km.get_key("doomed").await.expect("still there");
    assert_eq!(key.state, KeyState::DeleteScheduled);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(matches!(
        km.cancel_key_deletion("doomed").await,
        Err(Error::FailedPrecondition(_))
    ));
    assert_eq!(km.purge_deleted_keys().await.expect("purges"), 1);
    let (key, _) = km.get_key("doomed").await.expect("row kept");
    assert_eq!(key.state, KeyState::Destroyed);
    assert!(matches!(
        km.unwrap(&wrapped.wrapped_key, b"").await,
        Err(Error::CannotUnwrap)
    ));
    assert!(matches!(
        km.create_key(new_key("doomed")).await,
        Err(Error::AlreadyExists(_))
    ));
    assert!(matches!(
        km.cancel_key_deletion("doomed").await,
        Err(Error::FailedPrecondition(_))
    ));

    // The sealed material is gone from the database.
    let store = Store::open(url, 2).expect("store");
    let sealed = store
        .run_blocking(|c| queries::sealed_kek(c, "doomed", 1))
        .expect("query")
        .expect("row");
    assert!(sealed.is_empty());
}
both_backends!(
    deletion_waiting_period_honoured,
    deletion_postgres,
    deletion_sqlite
);

async fn kek_rows_are_not_plaintext(url: &str) {
    let root = software_root();
    let km = manager(url, root.clone()).await;
    km.create_key(new_key("secret-key")).await.expect("creates");
    km.rotate_key("secret-key").await.expect("rotates");
    drop(km);

    let store = Store::open(url, 2).expect("store");
    let mut keks = Vec::new();
    for n in [1u32, 2] {
        let sealed = store
            .run_blocking(|c| queries::sealed_kek(c, "secret-key", n as i32))
            .expect("query")
            .expect("row");
        let kek = root
            .unseal(&kek_aad("secret-key", n), &sealed)
            .expect("unseals");
        assert_eq!(kek.len(), 32);
        assert!(
            !contains(&sealed, &kek),
            "sealed column holds the plaintext KEK"
        );
        // Bound to its id and version: the other version's AAD does not open it.
        assert!(root.unseal(&kek_aad("secret-key", 3 - n), &sealed).is_err());
        keks.push(kek);
    }
    // On SQLite, search the raw database files (main file and WAL) as well.
    if !url.starts_with("postgres") {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        for file in [path.to_owned(), format!("{path}-wal")] {
            if let Ok(raw) = std::fs::read(&file) {
                for kek in &keks {
                    assert!(!contains(&raw, kek), "{file} holds a plaintext KEK");
                }
            }
        }
    }
}
both_backends!(
    kek_rows_are_not_plaintext,
    kek_not_plaintext_postgres,
    kek_not_plaintext_sqlite
);

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn admin_listing_and_validation(url: &str) {
    let km = manager(url, software_root()).await;
    for id in ["e", "a", "c", "b", "d"] {
        km.create_key(new_key(id)).await.expect("creates");
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = km.list_keys(2, &token).await.expect("lists");
        pages += 1;
        seen.extend(page.keys.iter().map(|k| k.id.clone()));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    assert_eq!(pages, 3);
    assert!(matches!(
        km.list_keys(0, "not a token!").await,
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        km.list_keys(-1, "").await,
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        km.create_key(new_key("a")).await,
        Err(Error::AlreadyExists(_))
    ));
    assert!(matches!(
        km.create_key(new_key("Bad_Id")).await,
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(km.get_key("zzz").await, Err(Error::NotFound(_))));
    let too_many = NewKey {
        rotation_policy: RotationPolicy {
            rotation_period: None,
            max_wraps_per_version: (1 << 30) + 1,
        },
        ..new_key("f")
    };
    assert!(matches!(
        km.create_key(too_many).await,
        Err(Error::InvalidArgument { .. })
    ));
    let too_fast = NewKey {
        rotation_policy: RotationPolicy {
            rotation_period: Some(Duration::from_millis(10)),
            max_wraps_per_version: 0,
        },
        ..new_key("f")
    };
    assert!(matches!(
        km.create_key(too_fast).await,
        Err(Error::InvalidArgument { .. })
    ));
}
both_backends!(admin_listing_and_validation, admin_postgres, admin_sqlite);

async fn rotation_policy_rotates_by_itself(url: &str) {
    let km = manager(url, software_root()).await;
    let by_count = NewKey {
        rotation_policy: RotationPolicy {
            rotation_period: None,
            max_wraps_per_version: 3,
        },
        ..new_key("by-count")
    };
    km.create_key(by_count).await.expect("creates");
    let mut versions = Vec::new();
    let mut wrapped = Vec::new();
    for i in 0..7u8 {
        let w = km.wrap("by-count", &[i; 16], b"").await.expect("wraps");
        versions.push(w.version.version);
        wrapped.push(w);
    }
    assert_eq!(
        versions,
        [1, 1, 1, 2, 2, 2, 3],
        "a version never wraps more than its limit"
    );
    for (i, w) in wrapped.iter().enumerate() {
        let (plain, _) = km.unwrap(&w.wrapped_key, b"").await.expect("unwraps");
        assert_eq!(plain.as_slice(), &[i as u8; 16]);
    }
    km.refresh().await.expect("flushes counts");
    let (_, stored) = km.get_key("by-count").await.expect("gets");
    assert_eq!(
        stored.iter().map(|v| v.wrap_count).collect::<Vec<_>>(),
        [3, 3, 1]
    );

    let by_age = NewKey {
        rotation_policy: RotationPolicy {
            rotation_period: Some(Duration::from_secs(1)),
            max_wraps_per_version: 0,
        },
        ..new_key("by-age")
    };
    let key = km.create_key(by_age).await.expect("creates");
    assert!(key.next_rotation_time.is_some());
    assert!(
        km.rotate_due_keys().await.expect("checks").is_empty(),
        "not due yet"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let rotated = km.rotate_due_keys().await.expect("rotates");
    assert_eq!(rotated, [version("by-age", 2)]);
    assert_eq!(
        km.wrap("by-age", b"k", b"")
            .await
            .expect("wraps")
            .version
            .version,
        2
    );
    assert!(
        km.rotate_due_keys().await.expect("checks").is_empty(),
        "just rotated"
    );
}
both_backends!(
    rotation_policy_rotates_by_itself,
    rotation_policy_postgres,
    rotation_policy_sqlite
);

async fn wrap_limit_holds_under_concurrency(url: &str) {
    // A refresh every 10 ms races the wraps: the count must never dip while one runs.
    let busy = DomainSettings {
        refresh_interval: Duration::from_millis(10),
        ..settings()
    };
    let store = Store::open(url, 4).expect("store");
    let km = KeyManager::open(store, software_root(), busy)
        .await
        .expect("opens");
    let limited = NewKey {
        rotation_policy: RotationPolicy {
            rotation_period: None,
            max_wraps_per_version: 25,
        },
        ..new_key("limited")
    };
    km.create_key(limited).await.expect("creates");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let km = km.clone();
            tokio::spawn(async move {
                for _ in 0..40 {
                    km.generate_data_key("limited", b"")
                        .await
                        .expect("generates");
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    km.refresh().await.expect("flushes");
    let (_, versions) = km.get_key("limited").await.expect("gets");
    let counts: Vec<u64> = versions.iter().map(|v| v.wrap_count).collect();
    assert_eq!(
        counts.iter().sum::<u64>(),
        320,
        "every wrap counted: {counts:?}"
    );
    assert!(
        counts.iter().all(|c| *c <= 25),
        "a version exceeded its limit: {counts:?}"
    );
}
both_backends!(
    wrap_limit_holds_under_concurrency,
    wrap_limit_postgres,
    wrap_limit_sqlite
);

async fn batches_report_per_item(url: &str) {
    let km = manager(url, software_root()).await;
    km.create_key(new_key("batch")).await.expect("creates");
    let results = km
        .batch_generate_data_keys(&[
            GenerateItem {
                key_id: "batch".into(),
                associated_data: b"one".to_vec(),
            },
            GenerateItem {
                key_id: "nope".into(),
                associated_data: vec![],
            },
            GenerateItem {
                key_id: "batch".into(),
                associated_data: b"three".to_vec(),
            },
        ])
        .await
        .expect("batch accepted");
    assert_eq!(results.len(), 3);
    assert!(matches!(results[1], Err(Error::NotFound(_))));
    let first = results[0].as_ref().expect("ok");
    let third = results[2].as_ref().expect("ok");
    let items = vec![
        UnwrapItem {
            wrapped_key: first.wrapped_key.clone(),
            associated_data: b"one".to_vec(),
        },
        UnwrapItem {
            wrapped_key: third.wrapped_key.clone(),
            associated_data: b"one".to_vec(),
        },
        UnwrapItem {
            wrapped_key: vec![1, 2, 3],
            associated_data: vec![],
        },
    ];
    let unwrapped = km.batch_unwrap(&items).await.expect("batch accepted");
    assert_eq!(
        unwrapped[0].as_ref().expect("ok").0.as_slice(),
        first.plaintext.as_slice()
    );
    assert!(matches!(unwrapped[1], Err(Error::CannotUnwrap)));
    assert!(matches!(unwrapped[2], Err(Error::CannotUnwrap)));
    km.rotate_key("batch").await.expect("rotates");
    let rewrapped = km.batch_rewrap(&items[..1]).await.expect("batch accepted");
    assert_eq!(rewrapped[0].as_ref().expect("ok").version.version, 2);

    let too_many = vec![items[0].clone(); km.settings().max_batch_items + 1];
    assert!(matches!(
        km.batch_unwrap(&too_many).await,
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        km.batch_rewrap(&[]).await,
        Err(Error::InvalidArgument { .. })
    ));
}
both_backends!(batches_report_per_item, batches_postgres, batches_sqlite);

/// Polls `check` until it holds or a few refresh intervals have passed.
async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + REFRESH * 10;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "replicas did not agree in time: {what}"
        );
        tokio::time::sleep(REFRESH / 4).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_one_postgres_agree() {
    let db = TestPostgres::new().expect("test PostgreSQL");
    let root = software_root();
    let a = manager(&db.url, root.clone()).await;
    let b = manager(&db.url, root.clone()).await;

    a.create_key(new_key("shared")).await.expect("creates");
    eventually("b sees the new key", || async {
        b.wrap("shared", b"k", b"").await.is_ok()
    })
    .await;

    let from_a = a.wrap("shared", b"dek", b"ctx").await.expect("wraps");
    let (plain, _) = b
        .unwrap(&from_a.wrapped_key, b"ctx")
        .await
        .expect("b unwraps a's key");
    assert_eq!(plain.as_slice(), b"dek");

    a.rotate_key("shared").await.expect("rotates");
    eventually("b wraps under the new primary", || async {
        matches!(b.wrap("shared", b"k", b"").await, Ok(w) if w.version.version == 2)
    })
    .await;
    let from_b = b.wrap("shared", b"dek2", b"ctx").await.expect("wraps");
    a.unwrap(&from_b.wrapped_key, b"ctx")
        .await
        .expect("a unwraps b's v2 key");

    a.update_key_version(&version("shared", 1), KeyVersionState::Disabled)
        .await
        .expect("disables");
    eventually("b refuses the disabled version", || async {
        matches!(
            b.unwrap(&from_a.wrapped_key, b"ctx").await,
            Err(Error::CannotUnwrap)
        )
    })
    .await;

    // Rotating through both at once never creates the same version twice.
    let (ra, rb) = tokio::join!(a.rotate_key("shared"), b.rotate_key("shared"));
    let (va, vb) = (
        ra.expect("a rotates").1.reference.version,
        rb.expect("b rotates").1.reference.version,
    );
    assert_ne!(va, vb);
    let (key, versions) = a.get_key("shared").await.expect("gets");
    assert_eq!(key.primary_version, 4);
    assert_eq!(
        versions
            .iter()
            .map(|v| v.reference.version)
            .collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );

    // Policy rotation from both replicas at once rotates a due key exactly once.
    let due = NewKey {
        rotation_policy: RotationPolicy {
            rotation_period: Some(Duration::from_secs(1)),
            max_wraps_per_version: 0,
        },
        ..new_key("due")
    };
    a.create_key(due).await.expect("creates");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (ra, rb) = tokio::join!(a.rotate_due_keys(), b.rotate_due_keys());
    let total = ra.expect("a").len() + rb.expect("b").len();
    assert_eq!(total, 1);
    let (key, _) = b.get_key("due").await.expect("gets");
    assert_eq!(key.primary_version, 2);
}

const SOFTHSM_LIB: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// SoftHSM2 reads its configuration from `SOFTHSM2_CONF` when the module initialises, and
/// setting environment variables in a running multi-threaded test is unsound, so the real
/// work runs in a child process of this test binary with the variable set from the start.
#[test]
fn pkcs11_root_key_with_softhsm() {
    if !Path::new(SOFTHSM_LIB).exists() {
        eprintln!(
            "\n!!!!! SKIPPED pkcs11_root_key_with_softhsm: {SOFTHSM_LIB} is missing (apt-get install softhsm2) !!!!!\n"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).expect("token dir");
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .expect("conf");
    let status = std::process::Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            "keyservice-test",
            "--so-pin",
            "87654321",
            "--pin",
            "12345678",
        ])
        .env("SOFTHSM2_CONF", &conf)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("softhsm2-util runs");
    assert!(status.success(), "token initialised");
    let pin = dir.path().join("pin");
    std::fs::write(&pin, "12345678\n").expect("pin file");
    let sqlite = TestSqlite::new().expect("sqlite");
    let spec = format!(
        "pkcs11:token=keyservice-test;object=root?module-path={SOFTHSM_LIB}&pin-source=file:{}",
        pin.display()
    );
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "domain::pkcs11_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SOFTHSM2_CONF", &conf)
        .env("KEYSERVICE_TEST_PKCS11_SPEC", &spec)
        .env("KEYSERVICE_TEST_DB", &sqlite.url)
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
#[ignore = "run by pkcs11_root_key_with_softhsm in a child process"]
fn pkcs11_child() {
    use keyservice::rootkey::{self, Pkcs11Config, Pkcs11RootKey, create_pkcs11_root_key};
    let (Ok(spec), Ok(db)) = (
        std::env::var("KEYSERVICE_TEST_PKCS11_SPEC"),
        std::env::var("KEYSERVICE_TEST_DB"),
    ) else {
        return;
    };
    let config = Pkcs11Config::parse(&spec).expect("spec parses");
    create_pkcs11_root_key(&config).expect("key created in the token");
    assert!(
        create_pkcs11_root_key(&config).is_err(),
        "never a second key with the label"
    );

    let root = Pkcs11RootKey::open(&config).expect("opens");
    let sealed = root.seal(b"aad", b"kek material").expect("seals");
    assert_eq!(
        root.unseal(b"aad", &sealed).expect("unseals").as_slice(),
        b"kek material"
    );
    assert!(root.unseal(b"other", &sealed).is_err());
    assert!(!contains(&sealed, b"kek material"));

    // Log the token out behind the provider's back (as an HSM restart would): the provider
    // notices the lost login, logs in again and carries on.
    {
        let ctx = cryptoki::context::Pkcs11::new(&config.module_path).expect("module");
        let slot = ctx
            .get_slots_with_initialized_token()
            .expect("slots")
            .into_iter()
            .find(|s| {
                ctx.get_token_info(*s)
                    .is_ok_and(|i| i.label().trim_end() == config.token_label)
            })
            .expect("slot");
        ctx.open_ro_session(slot)
            .expect("session")
            .logout()
            .expect("logs out");
    }
    let again = root
        .seal(b"aad", b"after logout")
        .expect("seals after logging in again");
    assert_eq!(
        root.unseal(b"aad", &again).expect("unseals").as_slice(),
        b"after logout"
    );
    assert_eq!(
        root.unseal(b"aad", &sealed).expect("unseals").as_slice(),
        b"kek material"
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let root = rootkey::open(&spec).expect("opens through the spec");
        let km = manager(&db, root).await;
        km.create_key(new_key("hsm-backed")).await.expect("creates");
        let w = km.wrap("hsm-backed", b"dek", b"ctx").await.expect("wraps");
        km.rotate_key("hsm-backed").await.expect("rotates");
        drop(km);
        // A fresh manager (as after a restart) unseals the KEKs through the HSM again.
        let km = manager(&db, rootkey::open(&spec).expect("opens")).await;
        let (plain, _) = km
            .unwrap(&w.wrapped_key, b"ctx")
            .await
            .expect("unwraps after restart");
        assert_eq!(plain.as_slice(), b"dek");
        // A different token key cannot open the stored KEKs: opening must fail loudly.
        let other = Pkcs11Config {
            key_label: "other".into(),
            ..config.clone()
        };
        create_pkcs11_root_key(&other).expect("second key");
        let store = Store::open(&db, 2).expect("store");
        let wrong: Arc<dyn RootKey> = Arc::new(Pkcs11RootKey::open(&other).expect("opens"));
        assert!(KeyManager::open(store, wrong, settings()).await.is_err());
    });
}

/// With a periodic refresh far too slow to matter, replicas on PostgreSQL still agree
/// quickly because every change is announced with NOTIFY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_notify_spreads_changes_quickly() {
    let db = TestPostgres::new().expect("test PostgreSQL");
    let slow = DomainSettings {
        refresh_interval: Duration::from_secs(3600),
        ..settings()
    };
    let root = software_root();
    let a = KeyManager::open(
        Store::open(&db.url, 2).expect("store"),
        root.clone(),
        slow.clone(),
    )
    .await
    .expect("opens");
    let b = KeyManager::open(Store::open(&db.url, 2).expect("store"), root, slow)
        .await
        .expect("opens");
    // Give b's listener time to connect before the first change.
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.create_key(new_key("notified")).await.expect("creates");
    let deadline = Instant::now() + Duration::from_secs(3);
    while b.wrap("notified", b"k", b"").await.is_err() {
        assert!(Instant::now() < deadline, "b never heard of the new key");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.rotate_key("notified").await.expect("rotates");
    let deadline = Instant::now() + Duration::from_secs(3);
    while !matches!(b.wrap("notified", b"k", b"").await, Ok(w) if w.version.version == 2) {
        assert!(
            Instant::now() < deadline,
            "b never used the rotated version"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Replicas starting at the same time against a fresh PostgreSQL database all migrate and
/// open (the migration runs under an advisory lock).
#[test]
fn replicas_migrating_at_once_all_open() {
    let db = TestPostgres::new().expect("test PostgreSQL");
    let openers: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            std::thread::spawn(move || Store::open(&url, 2).map(|_| ()))
        })
        .collect();
    for opener in openers {
        opener.join().expect("thread").expect("store opens");
    }
}

/// The `env:` provider, in a child process so the variable is set before anything runs
/// (setting variables inside a multi-threaded test is unsound).
#[test]
fn env_root_key_from_variable() {
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "domain::env_root_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            "KEYSERVICE_TEST_ENV_ROOT",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .env("KEYSERVICE_TEST_ENV_SHORT", "AAECAw==")
        .output()
        .expect("child runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
#[ignore = "run by env_root_key_from_variable in a child process"]
fn env_root_child() {
    use keyservice::rootkey::{self, RootKeyError};
    if std::env::var_os("KEYSERVICE_TEST_ENV_ROOT").is_none() {
        return;
    }
    let root = rootkey::open("env:KEYSERVICE_TEST_ENV_ROOT").expect("opens");
    let sealed = root.seal(b"aad", b"kek").expect("seals");
    // The same variable gives the same key (bytes 0..32, as in the vector file).
    let same = SoftwareRootKey::new(Zeroizing::new(std::array::from_fn(|i| i as u8)), "same");
    assert_eq!(
        same.unseal(b"aad", &sealed).expect("unseals").as_slice(),
        b"kek"
    );
    assert!(matches!(
        rootkey::open("env:KEYSERVICE_TEST_ENV_SHORT"),
        Err(RootKeyError::BadLength(_))
    ));
    assert!(matches!(
        rootkey::open("env:KEYSERVICE_TEST_ENV_UNSET"),
        Err(RootKeyError::InvalidSpec(_))
    ));
    assert!(matches!(
        rootkey::open("vault:x"),
        Err(RootKeyError::InvalidSpec(_))
    ));
}
