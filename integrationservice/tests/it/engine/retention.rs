//! The retention purge under an injected clock, on both backends: each period deletes what
//! it should and nothing else (a tenant's override included), batches are bounded, every run
//! leaves a summary, and a change-feed cursor older than the window is refused.

use diesel::prelude::*;

use integrationservice::domain::retention::{
    ManualClock, Overrides, Periods, PurgeReport, RetentionDefaults,
};
use integrationservice::domain::{Error, StartTime, TenantId, WebinarId};
use integrationservice::testing::{DbConnection, StoreError, metrics, models::MetricsRow, schema};

use crate::both_backends;
use crate::engine::harness::{Db, Stack, person, tenant_id, webinar_input};

const DAY_SECONDS: i64 = 86_400;

/// Writes metrics rows as a deployment without an email-hash key would (clear keys), each
/// under its own tenant's cipher.
pub(crate) fn insert_metrics(
    conn: &mut integrationservice::testing::DbConnection,
    rows: &[MetricsRow],
) -> Result<(), Error> {
    for row in rows {
        let plain = integrationservice::testing::FieldCipher::plain(&row.tenant);
        metrics::insert(conn, &plain, std::slice::from_ref(row))?;
    }
    Ok(())
}

pub(crate) fn metrics_row(tenant: &TenantId, webinar: &WebinarId, email: &str) -> MetricsRow {
    MetricsRow {
        tenant: tenant.to_string(),
        webinar_id: webinar.to_string(),
        email: email.into(),
        eventuserid: Some(1),
        live_minutes: 10,
        archive_minutes: 0,
        cumulative_live_minutes: 10,
        cumulative_archive_minutes: 0,
        engagement_score: 1.0,
        questions_asked: 0,
        polls_answered: 0,
        surveys_answered: 0,
        resources_downloaded: 0,
        first_live_activity_at: None,
        last_live_activity_at: None,
        updated_at: 0,
        first_archive_activity_at: None,
        last_archive_activity_at: None,
        email_hash: String::new(),
        interactions_digest: None,
    }
}

/// Rows of `table` for (tenant, webinar): registrations and metrics.
async fn held(stack: &Stack, tenant: &TenantId, webinar: &WebinarId) -> (i64, i64) {
    let (t, w) = (tenant.to_string(), webinar.to_string());
    stack
        .engine
        .store()
        .run(move |conn: &mut DbConnection| {
            use schema::attendee_metrics::dsl as m;
            use schema::registrations::dsl as r;
            let regs = r::registrations
                .filter(r::tenant.eq(&t))
                .filter(r::webinar_id.eq(&w))
                .count()
                .get_result(conn)?;
            let mets = m::attendee_metrics
                .filter(m::tenant.eq(&t))
                .filter(m::webinar_id.eq(&w))
                .count()
                .get_result(conn)?;
            Ok::<_, StoreError>((regs, mets))
        })
        .await
        .expect("count")
}

async fn webinar_exists(stack: &Stack, tenant: &TenantId, webinar: &WebinarId) -> bool {
    let (t, w) = (tenant.to_string(), webinar.to_string());
    stack
        .engine
        .store()
        .run(move |conn: &mut DbConnection| {
            use schema::webinars::dsl as w_;
            let n: i64 = w_::webinars
                .filter(w_::tenant.eq(&t))
                .filter(w_::id.eq(&w))
                .count()
                .get_result(conn)?;
            Ok::<_, StoreError>(n == 1)
        })
        .await
        .expect("count")
}

/// (failed, other) jobs of the tenant.
async fn jobs(stack: &Stack, tenant: &TenantId) -> (i64, i64) {
    let t = tenant.to_string();
    stack
        .engine
        .store()
        .run(move |conn: &mut DbConnection| {
            use schema::outbox_jobs::dsl as j;
            let failed = j::outbox_jobs
                .filter(j::tenant.eq(&t))
                .filter(j::state.eq("FAILED"))
                .count()
                .get_result(conn)?;
            let other = j::outbox_jobs
                .filter(j::tenant.eq(&t))
                .filter(j::state.ne("FAILED"))
                .count()
                .get_result(conn)?;
            Ok::<_, StoreError>((failed, other))
        })
        .await
        .expect("count")
}

fn only(report: PurgeReport) -> PurgeReport {
    PurgeReport {
        started_at: 0,
        finished_at: 0,
        ..report
    }
}

async fn each_period_deletes_its_rows_only(db: Db) {
    // No workers: the rows stay as written, and only the purge moves them.
    let stack = Stack::start_opt(db, None, std::time::Duration::from_secs(5)).await;
    let engine = stack.engine.clone().with_retention(RetentionDefaults {
        periods: Periods {
            registration_days: 10,
            cancelled_registration_days: 5,
            unlinked_webinar_days: 20,
            failed_job_days: 7,
        },
        change_feed_days: 30,
        // Small batches, so every delete loops.
        batch_size: 2,
    });
    let clock = ManualClock::at(integrationservice::testing::now_ms());
    let (a, b) = (stack.tenant.clone(), tenant_id("keeper"));
    stack.put_credentials(&a).await;
    stack.put_credentials(&b).await;
    // Tenant B keeps registrations for ever.
    engine
        .retention()
        .set_overrides(
            &b,
            Overrides {
                registration_days: Some(0),
                ..Overrides::default()
            },
        )
        .await
        .expect("override");
    let later = StartTime::from_parts(chrono::Utc::now().timestamp() + 100 * DAY_SECONDS, 0)
        .expect("start");
    let create = |tenant: TenantId, reference: &'static str, future: bool| {
        let engine = engine.clone();
        async move {
            let mut input = webinar_input(reference);
            if future {
                input.start_at = later;
            }
            engine
                .webinars()
                .create(&tenant, input, None)
                .await
                .expect("webinar")
                .id
        }
    };
    // Ended three hours ago (A and B), in 100 days, and one to unlink.
    let ended = create(a.clone(), "ended", false).await;
    let ended_b = create(b.clone(), "ended-b", false).await;
    let future = create(a.clone(), "future", true).await;
    let unlinked = create(a.clone(), "unlinked", true).await;
    let regs = engine.registrations();
    regs.register_batch(&a, &ended, (0..3).map(person).collect())
        .await
        .expect("ended");
    regs.register_batch(&b, &ended_b, (0..2).map(person).collect())
        .await
        .expect("ended b");
    let kept = regs
        .register_batch(&a, &future, (0..2).map(person).collect())
        .await
        .expect("future");
    let cancelled = kept[0].result.clone().expect("registered");
    regs.register(&a, &future, person(7)).await.expect("extra");
    regs.cancel(&a, &future, &cancelled.id)
        .await
        .expect("cancel");
    regs.register(&a, &unlinked, person(9))
        .await
        .expect("unlinked");
    engine
        .webinars()
        .unlink(&a, &unlinked)
        .await
        .expect("unlink");
    let rows = vec![
        metrics_row(&a, &ended, "x1@example.com"),
        metrics_row(&a, &ended, "x2@example.com"),
        metrics_row(&a, &ended, "x3@example.com"),
        metrics_row(&a, &future, "y@example.com"),
        metrics_row(&b, &ended_b, "z@example.com"),
    ];
    engine
        .store()
        .run(move |conn| insert_metrics(conn, &rows))
        .await
        .expect("metrics");
    // One of A's jobs failed for good; the rest are waiting.
    let t = a.to_string();
    engine
        .store()
        .run(move |conn: &mut DbConnection| {
            use schema::outbox_jobs::dsl as j;
            let id: i64 = j::outbox_jobs
                .filter(j::tenant.eq(&t))
                .select(j::id)
                .order(j::id.asc())
                .first(conn)?;
            diesel::update(j::outbox_jobs.filter(j::id.eq(id)))
                .set(j::state.eq("FAILED"))
                .execute(conn)?;
            Ok::<_, StoreError>(())
        })
        .await
        .expect("fail a job");
    let (_, waiting_jobs) = jobs(&stack, &a).await;
    let feed = engine.metrics().changes(&a, 0, 1000).await.expect("feed");
    assert!(feed.len() > 2, "the writes above made feed entries");
    let (first_seq, last_seq) = (feed[0].seq, feed[feed.len() - 1].seq);

    let purge = || async { only(engine.retention().purge(&clock).await.expect("purge")) };
    assert_eq!(purge().await, PurgeReport::default(), "nothing is due yet");

    clock.advance_days(6);
    assert_eq!(
        purge().await,
        PurgeReport {
            cancelled_registrations: 1,
            ..PurgeReport::default()
        }
    );
    assert_eq!(
        held(&stack, &a, &future).await,
        (2, 1),
        "the cancelled one only"
    );

    clock.advance_days(2);
    assert_eq!(
        purge().await,
        PurgeReport {
            jobs: 1,
            ..PurgeReport::default()
        }
    );
    assert_eq!(jobs(&stack, &a).await.0, 0);
    // The cancelled registration's jobs went with it; the other waiting jobs stay.
    assert!(jobs(&stack, &a).await.1 >= waiting_jobs - 2);

    clock.advance_days(3);
    assert_eq!(
        purge().await,
        PurgeReport {
            registrations: 3,
            attendee_metrics: 3,
            ..PurgeReport::default()
        },
        "the ended webinar's people, not tenant B's (kept for ever)"
    );
    assert_eq!(held(&stack, &a, &ended).await, (0, 0));
    assert!(
        webinar_exists(&stack, &a, &ended).await,
        "the webinar stays"
    );
    assert_eq!(held(&stack, &b, &ended_b).await, (2, 1));
    assert_eq!(held(&stack, &a, &future).await, (2, 1));

    clock.advance_days(10);
    assert_eq!(
        purge().await,
        PurgeReport {
            webinars: 1,
            registrations: 1,
            ..PurgeReport::default()
        }
    );
    assert!(!webinar_exists(&stack, &a, &unlinked).await);
    assert_eq!(held(&stack, &a, &unlinked).await, (0, 0));
    assert!(webinar_exists(&stack, &a, &future).await);

    // The feed still reads from its first entry before the window passes.
    engine
        .metrics()
        .changes(&a, first_seq, 10)
        .await
        .expect("within the window");
    clock.advance_days(10);
    let report = purge().await;
    assert!(report.changes >= feed.len() as u64, "{report:?}");
    assert_eq!(
        PurgeReport {
            changes: 0,
            ..report
        },
        PurgeReport::default()
    );
    let refused = engine
        .metrics()
        .changes(&a, first_seq, 10)
        .await
        .expect_err("cursor older than the window");
    assert_eq!(refused, Error::CursorExpired { window_days: 30 });
    let status = tonic::Status::from(refused);
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    let info = tonic_types::StatusExt::get_error_details(&status)
        .error_info()
        .cloned()
        .expect("error info");
    assert_eq!(info.reason, "CURSOR_EXPIRED");
    // A cursor at or past everything purged, and a fresh start, still read.
    engine
        .metrics()
        .changes(&a, last_seq, 10)
        .await
        .expect("a current cursor");
    engine
        .metrics()
        .changes(&a, 0, 10)
        .await
        .expect("a fresh start");
    // Every entry of the other tenant older than the window went too, and what stays is
    // everything registered for the future webinar and tenant B.
    assert_eq!(held(&stack, &a, &future).await, (2, 1));
    assert_eq!(held(&stack, &b, &ended_b).await, (2, 1));

    let runs = engine
        .store()
        .run(|conn| {
            integrationservice::testing::retention::recent_runs(conn, 100).map_err(Error::from)
        })
        .await
        .expect("runs");
    assert_eq!(runs.len(), 6, "one summary per run");
    assert_eq!(runs[0].webinars, 0);
    assert_eq!(runs[1].webinars, 1);
}

both_backends!(retention_purge, each_period_deletes_its_rows_only);

/// The purge runs by itself in the workers (under its lease), on the workers' clock.
async fn the_worker_purges_on_its_clock(db: Db) {
    let clock = ManualClock::at(integrationservice::testing::now_ms());
    let workers = integrationservice::testing::WorkerConfig {
        purge_interval: Some(std::time::Duration::from_millis(50)),
        clock: std::sync::Arc::new(clock.clone()),
        ..crate::engine::harness::fast_workers()
    };
    let stack = Stack::start_with(db, workers, std::time::Duration::from_secs(5)).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let later = StartTime::from_parts(chrono::Utc::now().timestamp() + 100 * DAY_SECONDS, 0)
        .expect("start");
    let mut input = webinar_input("worker");
    input.start_at = later;
    let webinar = engine
        .webinars()
        .create(&tenant, input, None)
        .await
        .expect("webinar")
        .id;
    let registered = engine
        .registrations()
        .register(&tenant, &webinar, person(1))
        .await
        .expect("register")
        .0;
    engine
        .registrations()
        .cancel(&tenant, &webinar, &registered.id)
        .await
        .expect("cancel");
    assert_eq!(held(&stack, &tenant, &webinar).await.0, 1);
    // 31 days on: past the default 30 for cancelled registrations.
    clock.advance_days(31);
    crate::engine::harness::eventually(
        "the worker purged the cancelled registration",
        std::time::Duration::from_secs(20),
        || async { (held(&stack, &tenant, &webinar).await.0 == 0).then_some(()) },
    )
    .await;
    // The run's summary is stored when the whole purge ends, after the deletion was already
    // visible: wait for it. Every run of this test is read, not the latest few: the worker
    // purges every 50 ms and the manual clock gives the runs after the advance one start time.
    crate::engine::harness::eventually(
        "the purge run that deleted it is recorded",
        std::time::Duration::from_secs(20),
        || async {
            let runs = engine
                .store()
                .run(|conn| {
                    integrationservice::testing::retention::recent_runs(conn, 100_000)
                        .map_err(Error::from)
                })
                .await
                .expect("runs");
            runs.iter()
                .any(|r| r.cancelled_registrations == 1)
                .then_some(())
        },
    )
    .await;
}

both_backends!(retention_worker, the_worker_purges_on_its_clock);
