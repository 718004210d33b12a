//! The metrics poller pulls a webinar's metrics on its freshness schedule without any
//! on-demand call, and a change-feed watcher waiting on the cursor wakes when they land.

use std::time::Duration;

use integrationservice::domain::{ChangeKind, DurationMinutes, RegistrationStatus, StartTime};
use integrationservice::testing::MetricsSchedule;
use on24sim::ViewingRequest;

use crate::both_backends;
use crate::engine::harness::{Db, Stack, eventually, fast_workers, person, webinar_input};

async fn poller_follows_schedule(db: Db) {
    let mut workers = fast_workers();
    // Pull 3 s after the live end (production: 30 min, 2 h, 4 h, 12 h, 24 h).
    workers.metrics = MetricsSchedule {
        after_end: vec![Duration::from_secs(3)],
        ..MetricsSchedule::default()
    };
    let stack = Stack::start_with(db, workers, Duration::from_secs(5)).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let mut input = webinar_input("ev-poll");
    // A 15-minute webinar ending right now.
    input.duration_minutes = DurationMinutes::parse(15).expect("duration");
    input.start_at =
        StartTime::from_parts(chrono::Utc::now().timestamp() - 15 * 60, 0).expect("start");
    let (webinar, event) = stack.active_webinar_with(&tenant, input).await;
    engine
        .registrations()
        .register(&tenant, &webinar, person(1))
        .await
        .expect("register");
    stack
        .wait_all(
            &tenant,
            &webinar,
            1,
            RegistrationStatus::Delivered,
            Duration::from_secs(20),
        )
        .await;
    stack
        .sim
        .control()
        .add_viewing(
            event,
            &ViewingRequest {
                email: "person1@example.com".into(),
                live_minutes: Some(12.0),
                ..ViewingRequest::default()
            },
        )
        .await
        .expect("viewing");
    let cursor = engine
        .metrics()
        .changes(&tenant, 0, 1000)
        .await
        .expect("feed")
        .last()
        .map_or(0, |c| c.seq);

    // A watcher on the cursor wakes when the poller's sync lands; nobody calls sync_now.
    let changes = engine
        .metrics()
        .wait_changes(&tenant, cursor, 100, Duration::from_secs(30))
        .await
        .expect("watch");
    assert!(
        !changes.is_empty(),
        "the watch returned on a change, not on its deadline"
    );
    let metrics = eventually(
        "metrics pulled by the poller",
        Duration::from_secs(20),
        || async {
            let m = engine
                .metrics()
                .attendees(&tenant, &webinar, 1000, "")
                .await
                .ok()?;
            m.items.into_iter().find(|a| a.activity.live_minutes == 12)
        },
    )
    .await;
    assert!(metrics.registration_id.is_some());
    let feed = engine
        .metrics()
        .changes(&tenant, cursor, 100)
        .await
        .expect("feed");
    assert!(feed.iter().any(|c| c.kind == ChangeKind::AttendeeMetrics));
    // The sync's chunks (rows and feed entries) commit as the report streams in; the sync is
    // recorded as finished with the job's completion just after, so the watcher can see the
    // rows a moment before `last_metrics_at` moves.
    eventually(
        "the poller's sync recorded as finished",
        Duration::from_secs(20),
        || async {
            let row = engine.metrics().webinar(&tenant, &webinar).await.ok()?;
            row.last_metrics_at
        },
    )
    .await;
}

both_backends!(metrics_poller_follows_the_schedule, poller_follows_schedule);
