//! What is stored: KEK rows are never plaintext, a restart reloads every version, replicas
//! migrate safely together.

use super::*;

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
