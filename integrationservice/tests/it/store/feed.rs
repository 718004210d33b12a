//! The change feed on PostgreSQL under concurrent writers: a reader following with a cursor, as
//! the CRM does, sees every change exactly once although writers commit out of the order in
//! which they appended (the sequencer in `store::changes` gives `seq` in commit order).

use std::time::{Duration, Instant};

use integrationservice::domain::{RegistrationId, TenantId};
use integrationservice::testing::{Store, StoreError, changes, status::ChangeKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cursor_reader_never_skips_a_change_of_a_slow_committer() {
    let pg = xtask::testdb::TestPostgres::new().expect("test postgres");
    let store = Store::connect(&pg.url, 12).expect("store");
    store.migrate().await.expect("migrate");
    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..EACH {
                let id = RegistrationId::generate();
                let tenant = TenantId::parse("t").expect("tenant");
                store
                    .transaction(move |conn| {
                        changes::append(
                            conn,
                            &[changes::change(
                                &tenant,
                                ChangeKind::Registration,
                                None,
                                Some(&id),
                            )],
                        )?;
                        // Stay open a while after appending, so later writers commit first.
                        std::thread::sleep(Duration::from_millis(((w * 7 + i * 3) % 11) as u64));
                        Ok::<_, StoreError>(())
                    })
                    .await
                    .expect("append");
            }
        }));
    }
    let (mut seen, mut cursor) = (Vec::new(), 0i64);
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < WRITERS * EACH {
        let c = cursor;
        let rows = store
            .run(move |conn| {
                let tenant = TenantId::parse("t").expect("tenant");
                changes::list_after(conn, &tenant, c, 50).map_err(StoreError::from)
            })
            .await
            .expect("read");
        for r in rows {
            assert!(r.seq > cursor, "seq {} after cursor {cursor}", r.seq);
            cursor = r.seq;
            seen.push(r.registration_id.expect("registration id"));
        }
        assert!(
            Instant::now() < deadline,
            "the reader saw {} of {} changes: some were skipped",
            seen.len(),
            WRITERS * EACH
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for w in writers {
        w.await.expect("writer");
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), WRITERS * EACH, "every change exactly once");
}
