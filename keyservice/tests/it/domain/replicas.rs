//! Several replicas on one PostgreSQL agree after changes made through one of them.

use super::*;

/// Polls `check` until it holds or a few refresh intervals have passed.
async fn eventually<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    testkit::eventually(format!("replicas to agree: {what}"), REFRESH * 10, check).await
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
    let due = a.create_key(due).await.expect("creates");
    until_past("the rotation time", due.next_rotation_time).await;
    let (ra, rb) = tokio::join!(a.rotate_due_keys(), b.rotate_due_keys());
    let total = ra.expect("a").len() + rb.expect("b").len();
    assert_eq!(total, 1);
    let (key, _) = b.get_key("due").await.expect("gets");
    assert_eq!(key.primary_version, 2);
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
    // Both replicas' LISTEN sessions show in pg_stat_activity before the first change.
    testkit::eventually(
        "both replicas listening",
        Duration::from_secs(10),
        || async { listening_sessions(&db.url) >= 2 },
    )
    .await;
    a.create_key(new_key("notified")).await.expect("creates");
    testkit::eventually("b to hear of the new key", Duration::from_secs(3), || {
        b.wrap("notified", b"k", b"")
    })
    .await;
    a.rotate_key("notified").await.expect("rotates");
    testkit::eventually(
        "b to use the rotated version",
        Duration::from_secs(3),
        || async { matches!(b.wrap("notified", b"k", b"").await, Ok(w) if w.version.version == 2) },
    )
    .await;
}

/// How many sessions on this database have run `LISTEN` last (the replicas' listeners).
fn listening_sessions(url: &str) -> i64 {
    use diesel::{Connection, RunQueryDsl, pg::PgConnection, sql_types::BigInt};
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = PgConnection::establish(url).expect("connect");
    diesel::sql_query(
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .get_result::<Count>(&mut conn)
    .expect("count listeners")
    .n
}
