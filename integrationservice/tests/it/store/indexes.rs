//! The delivery's ordering check (is an older job of this registration still pending?) is
//! served by the `outbox_registration` index on both backends, not by a walk over the tenant's
//! jobs. A registration's keyed email hash is found through `registrations_email_hash`, which
//! holds sealed rows only, so a look-up of rows not hashed yet cannot be answered by reading
//! every NULL of it.

use diesel::prelude::*;
use diesel::sql_types::Text;
use integrationservice::testing::{Store, StoreError};

/// A migrated PostgreSQL store (the database lives as long as the returned guard).
async fn pg_store() -> (xtask::testdb::TestPostgres, Store) {
    let pg = xtask::testdb::TestPostgres::new().expect("test postgres");
    let store = Store::connect(&pg.url, 2).expect("store");
    store.migrate().await.expect("migrate");
    (pg, store)
}

/// A migrated SQLite store in a directory that lives as long as the returned guard.
async fn sqlite_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.sqlite");
    let store = Store::connect(path.to_str().expect("utf-8 path"), 2).expect("store");
    store.migrate().await.expect("migrate");
    (dir, store)
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    plan: String,
}

/// The plan of `sql` (parameters `$1`–`$3`, text) on PostgreSQL with sequential scans
/// discouraged (the tables are empty, so any usable index must win) and planned generically,
/// as the service's prepared statements are once cached.
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

#[derive(QueryableByName)]
struct SqlitePlan {
    #[diesel(sql_type = Text)]
    detail: String,
}

/// SQLite's query plan of `sql`.
async fn sqlite_plan(store: &Store, sql: &'static str) -> String {
    store
        .run(move |conn| {
            diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
                .load::<SqlitePlan>(conn)
                .map_err(StoreError::from)
        })
        .await
        .expect("explain")
        .into_iter()
        .map(|l| l.detail)
        .collect::<Vec<_>>()
        .join("\n")
}

const ORDERING_CHECK: &str = "SELECT EXISTS (SELECT 1 FROM outbox_jobs WHERE tenant = $1 \
    AND registration_id = $2 AND id < 10 AND state <> 'FAILED' AND $3 IS NOT NULL)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ordering_check_uses_the_registration_index_on_postgres() {
    let (_pg, store) = pg_store().await;
    let plan = pg_plan(&store, ORDERING_CHECK).await;
    assert!(
        plan.contains("outbox_registration"),
        "plan uses the index:\n{plan}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ordering_check_uses_the_registration_index_on_sqlite() {
    let (_dir, store) = sqlite_store().await;
    let plan = sqlite_plan(
        &store,
        "SELECT EXISTS (SELECT 1 FROM outbox_jobs WHERE tenant = 't' \
         AND registration_id = 'r' AND id < 10 AND state <> 'FAILED')",
    )
    .await;
    assert!(
        plan.contains("outbox_registration"),
        "plan uses the index:\n{plan}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_hash_look_ups_use_the_sealed_rows_index_on_postgres() {
    let (_pg, store) = pg_store().await;
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
    // An empty table's plans never pick it for `email_hash IS NULL` anyway; what keeps a
    // large one without statistics from doing so is that the index holds no NULL.
    let definition = index_definition(&store, "registrations_email_hash").await;
    assert!(
        definition.contains("WHERE (email_hash IS NOT NULL)"),
        "the index holds sealed rows only: {definition}"
    );
    let by_clear_email = pg_plan(
        &store,
        "SELECT id FROM registrations WHERE tenant = $1 AND webinar_id = $2 \
         AND email = $3 AND email_hash IS NULL AND email IS NOT NULL",
    )
    .await;
    assert!(
        by_clear_email.contains("registrations_unhashed"),
        "rows not hashed yet are found through their own index:\n{by_clear_email}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_hash_look_ups_use_the_sealed_rows_index_on_sqlite() {
    let (_dir, store) = sqlite_store().await;
    let plan = sqlite_plan(
        &store,
        "SELECT id FROM registrations WHERE tenant = 't' AND webinar_id = 'w' \
         AND email_hash IN ('a', 'b')",
    )
    .await;
    assert!(
        plan.contains("registrations_email_hash"),
        "a keyed hash is found through its index:\n{plan}"
    );
    let definition = index_definition(&store, "registrations_email_hash").await;
    assert!(
        definition.contains("WHERE email_hash IS NOT NULL"),
        "the index holds sealed rows only: {definition}"
    );
}

#[derive(QueryableByName)]
struct Definition {
    #[diesel(sql_type = Text)]
    definition: String,
}

/// How the backend's catalog defines index `name`.
async fn index_definition(store: &Store, name: &'static str) -> String {
    store
        .run(move |conn| {
            let sql = match conn {
                integrationservice::testing::DbConnection::Pg(_) => {
                    "SELECT indexdef AS definition FROM pg_indexes WHERE indexname = $1"
                }
                integrationservice::testing::DbConnection::Sqlite(_) => {
                    "SELECT sql AS definition FROM sqlite_master WHERE type = 'index' AND name = ?"
                }
            };
            diesel::sql_query(sql)
                .bind::<Text, _>(name)
                .get_result::<Definition>(conn)
                .map_err(StoreError::from)
        })
        .await
        .expect("index definition")
        .definition
}
