//! The delivery's ordering check (is an older job of this registration still pending?) is
//! served by the `outbox_registration` index on both backends, not by a walk over the tenant's
//! jobs.

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
