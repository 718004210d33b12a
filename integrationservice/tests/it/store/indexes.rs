//! The delivery's ordering check (is an older job of this registration still pending?) is
//! served by the `outbox_registration` index on both backends, not by a walk over the tenant's
//! jobs. A registration's keyed email hash is found through `registrations_email_hash`, which
//! holds sealed rows only, so a look-up of rows not hashed yet cannot be answered by reading
//! every NULL of it.

use diesel::prelude::*;
use diesel::sql_types::Text;
use integrationservice::testing::{Store, StoreError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ordering_check_uses_the_registration_index_on_postgres() {
    let pg = xtask::testdb::TestPostgres::new().expect("test postgres");
    let store = Store::connect(&pg.url, 2).expect("store");
    store.migrate().await.expect("migrate");
    let plan = store
        .run(|conn| {
            // No rows to choose from: make the planner prefer any usable index to a scan.
            diesel::sql_query("SET enable_seqscan = off").execute(conn)?;
            diesel::sql_query(
                "EXPLAIN SELECT EXISTS (SELECT 1 FROM outbox_jobs WHERE tenant = 't' \
                 AND registration_id = 'r' AND id < 10 AND state <> 'FAILED')",
            )
            .load::<PlanLine>(conn)
            .map_err(StoreError::from)
        })
        .await
        .expect("explain");
    let plan: Vec<String> = plan.into_iter().map(|l| l.plan).collect();
    assert!(
        plan.iter().any(|l| l.contains("outbox_registration")),
        "plan uses the index:\n{}",
        plan.join("\n")
    );
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    plan: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ordering_check_uses_the_registration_index_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.sqlite");
    let store = Store::connect(path.to_str().expect("utf-8 path"), 2).expect("store");
    store.migrate().await.expect("migrate");
    let plan = store
        .run(|conn| {
            diesel::sql_query(
                "EXPLAIN QUERY PLAN SELECT EXISTS (SELECT 1 FROM outbox_jobs WHERE tenant = 't' \
                 AND registration_id = 'r' AND id < 10 AND state <> 'FAILED')",
            )
            .load::<SqlitePlan>(conn)
            .map_err(StoreError::from)
        })
        .await
        .expect("explain");
    let plan: Vec<String> = plan.into_iter().map(|l| l.detail).collect();
    assert!(
        plan.iter().any(|l| l.contains("outbox_registration")),
        "plan uses the index:\n{}",
        plan.join("\n")
    );
}

#[derive(QueryableByName)]
struct SqlitePlan {
    #[diesel(sql_type = Text)]
    detail: String,
}

/// The plan of `sql` on PostgreSQL with sequential scans discouraged (the tables are empty)
/// and prepared statements planned generically, as the service's are once cached.
async fn pg_plan(store: &Store, sql: &'static str) -> String {
    store
        .run(move |conn| {
            diesel::sql_query("SET enable_seqscan = off").execute(conn)?;
            diesel::sql_query("SET plan_cache_mode = force_generic_plan").execute(conn)?;
            diesel::sql_query(format!("PREPARE q(text, text, text) AS {sql}")).execute(conn)?;
            let plan = diesel::sql_query("EXPLAIN EXECUTE q('t', 'w', 'k')").load::<PlanLine>(conn);
            diesel::sql_query("DEALLOCATE q").execute(conn)?;
            plan.map_err(StoreError::from)
        })
        .await
        .expect("explain")
        .into_iter()
        .map(|l| l.plan)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_hash_look_ups_use_the_sealed_rows_index_on_postgres() {
    let pg = xtask::testdb::TestPostgres::new().expect("test postgres");
    let store = Store::connect(&pg.url, 2).expect("store");
    store.migrate().await.expect("migrate");
    // A parameter's equality implies the partial index's `email_hash IS NOT NULL`.
    let by_hash = pg_plan(
        &store,
        "SELECT id FROM registrations WHERE tenant = $1 AND webinar_id = $2 \
         AND email_hash = $3",
    )
    .await;
    assert!(
        by_hash.contains("registrations_email_hash"),
        "a keyed hash is found through its index:\n{by_hash}"
    );
    let by_clear_email = pg_plan(
        &store,
        "SELECT id FROM registrations WHERE tenant = $1 AND webinar_id = $2 \
         AND email = $3 AND email_hash IS NULL AND email IS NOT NULL",
    )
    .await;
    assert!(
        !by_clear_email.contains("registrations_email_hash"),
        "rows not hashed yet are not looked for among the hashes:\n{by_clear_email}"
    );
    assert!(
        by_clear_email.contains("registrations_unhashed"),
        "rows not hashed yet are found through their own index:\n{by_clear_email}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_hash_look_ups_use_the_sealed_rows_index_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.sqlite");
    let store = Store::connect(path.to_str().expect("utf-8 path"), 2).expect("store");
    store.migrate().await.expect("migrate");
    let plan = store
        .run(|conn| {
            diesel::sql_query(
                "EXPLAIN QUERY PLAN SELECT id FROM registrations WHERE tenant = 't' \
                 AND webinar_id = 'w' AND email_hash IN ('a', 'b')",
            )
            .load::<SqlitePlan>(conn)
            .map_err(StoreError::from)
        })
        .await
        .expect("explain");
    let plan: Vec<String> = plan.into_iter().map(|l| l.detail).collect();
    assert!(
        plan.iter().any(|l| l.contains("registrations_email_hash")),
        "a keyed hash is found through its index:\n{}",
        plan.join("\n")
    );
}
