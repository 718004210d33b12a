//! The metrics long tail on both backends, under the injected clock (no real waiting): weeks
//! after the live event, the poller's pulls go on and read only the attendees active since
//! the last read (ON24's attendee date filter, which the simulator's journal shows). An
//! on-demand viewing 40 days after the event is picked up; nothing is read twice.

use std::collections::HashMap;
use std::time::Duration;

use integrationservice::domain::retention::ManualClock;
use integrationservice::domain::{ChangeKind, DurationMinutes, RegistrationStatus, StartTime};
use integrationservice::testing::{WorkerConfig, now_ms};
use on24_client::{DateFilterMode, DateRange};
use on24sim::ViewingRequest;

use crate::both_backends;
use crate::engine::harness::{Db, Stack, eventually, fast_workers, person, webinar_input};

const DAY_MS: i64 = 86_400_000;

/// The date-filtered attendee reads in the simulator's journal, as (startdate, enddate), oldest
/// first (a read the test repeats right after, through `answered`, counted once).
async fn filtered_reads(stack: &Stack) -> Vec<(String, String)> {
    let mut reads: Vec<(String, String)> = stack
        .sim
        .control()
        .journal()
        .await
        .expect("journal")
        .into_iter()
        .filter(|e| e.method == "GET" && e.path.ends_with("/attendee") && e.status == 200)
        .filter(|e| {
            e.query
                .iter()
                .any(|(k, v)| k == "datefiltermode" && v == "lastActivity")
        })
        .map(|e| {
            let q = |name: &str| {
                e.query
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            (q("startdate"), q("enddate"))
        })
        .collect();
    reads.dedup();
    reads
}

/// The emails the simulator answers a journal's date-filtered read with.
async fn answered(stack: &Stack, event: i64, (start, end): &(String, String)) -> Vec<String> {
    let page = stack
        .on24()
        .list_event_attendees_in(
            u64::try_from(event).expect("event id"),
            DateRange {
                start: Some(start.clone()),
                end: Some(end.clone()),
                mode: Some(DateFilterMode::LastActivity),
            },
        )
        .await
        .expect("attendees");
    let mut emails: Vec<String> = page
        .attendees
        .into_iter()
        .filter_map(|a| a.email.map(|e| e.to_lowercase()))
        .collect();
    emails.sort();
    emails
}

fn at(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).expect("time")
}

async fn long_tail(db: Db) {
    let clock = ManualClock::at(now_ms());
    let workers = WorkerConfig {
        clock: std::sync::Arc::new(clock.clone()),
        ..fast_workers()
    };
    let stack = Stack::start_with(db, workers, Duration::from_secs(5)).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    // An hour-long webinar that ended three days ago: past its full reads, its next pull is
    // in the long tail (four days after the end).
    let mut input = webinar_input("ev-long-tail");
    let start = now_ms() / 1000 * 1000 - 3 * DAY_MS;
    input.start_at = StartTime::from_parts(start / 1000, 0).expect("start");
    input.duration_minutes = DurationMinutes::parse(60).expect("duration");
    let end = start + 3_600_000;
    let (webinar, event) = stack.active_webinar_with(&tenant, input).await;
    let mut ids = HashMap::new();
    for n in [1, 2] {
        let r = engine
            .registrations()
            .register(&tenant, &webinar, person(n))
            .await
            .expect("register");
        ids.insert(r.0.id.to_string(), n);
    }
    stack
        .wait_all(
            &tenant,
            &webinar,
            2,
            RegistrationStatus::Delivered,
            Duration::from_secs(20),
        )
        .await;
    let control = stack.sim.control();
    for n in [1, 2] {
        control
            .add_viewing(
                event,
                &ViewingRequest {
                    email: format!("person{n}@example.com"),
                    live_minutes: Some(30.0),
                    ..ViewingRequest::default()
                },
            )
            .await
            .expect("live viewing");
    }
    let scheduled = engine
        .metrics()
        .webinar(&tenant, &webinar)
        .await
        .expect("webinar metrics")
        .next_metrics_at;
    assert_eq!(
        scheduled,
        Some(end + 4 * DAY_MS),
        "the long tail's next slot"
    );

    // A full read (sync now) brings both live attendees; the poller has not pulled.
    let report = engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");
    assert_eq!(report.attendees, 2);
    assert!(filtered_reads(&stack).await.is_empty());
    let cursor = engine
        .metrics()
        .changes(&tenant, 0, 1000)
        .await
        .expect("feed")
        .last()
        .map_or(0, |c| c.seq);

    // Person 2 watches the recording 40 days after the event; 41 days after it the poller's
    // long-tail pull reads only who was active since the full read: person 2.
    let viewed = end + 40 * DAY_MS;
    control
        .add_viewing(
            event,
            &ViewingRequest {
                email: "person2@example.com".into(),
                archive_minutes: Some(20.0),
                archive_start: Some(at(viewed).format("%Y-%m-%dT%H:%M:%S+00:00").to_string()),
                ..ViewingRequest::default()
            },
        )
        .await
        .expect("late viewing");
    clock.advance_days((end + 41 * DAY_MS - now_ms()) / DAY_MS);
    let late = eventually(
        "the 40-day viewing picked up by the long tail",
        Duration::from_secs(30),
        || async {
            let page = engine
                .metrics()
                .attendees(&tenant, &webinar, 100, "")
                .await
                .ok()?;
            page.items
                .into_iter()
                .find(|a| a.email == "person2@example.com" && a.activity.archive_minutes == 20)
        },
    )
    .await;
    assert!(late.registration_id.is_some());
    let reads = filtered_reads(&stack).await;
    assert_eq!(reads.len(), 1, "one date-filtered read: {reads:?}");
    let first = reads[0].clone();
    let from = chrono::DateTime::parse_from_rfc3339(&first.0).expect("startdate");
    let until = chrono::DateTime::parse_from_rfc3339(&first.1).expect("enddate");
    assert!(
        from.timestamp_millis() > end && until.timestamp_millis() > viewed,
        "the window starts after the live viewing and holds the late one: {first:?}"
    );
    assert_eq!(
        answered(&stack, event, &first).await,
        ["person2@example.com"],
        "the filtered read answered person 2 alone"
    );
    let synced = eventually(
        "the long-tail pull recorded as finished",
        Duration::from_secs(20),
        || async {
            let m = engine.metrics().webinar(&tenant, &webinar).await.ok()?;
            (m.next_metrics_at > Some(end + 41 * DAY_MS)).then_some(m.last_metrics_at)
        },
    )
    .await;

    // The next slot (43 days after the end) reads on from where the last read ended.
    clock.advance_days(3);
    let second = eventually(
        "the next long-tail pull",
        Duration::from_secs(30),
        || async {
            let reads = filtered_reads(&stack).await;
            let m = engine.metrics().webinar(&tenant, &webinar).await.ok()?;
            (reads.len() == 2 && m.last_metrics_at != synced).then(|| reads[1].clone())
        },
    )
    .await;
    let next_from = chrono::DateTime::parse_from_rfc3339(&second.0).expect("startdate");
    assert_eq!(
        next_from - until,
        chrono::Duration::seconds(1),
        "consecutive windows neither overlap nor leave a gap"
    );
    assert!(
        answered(&stack, event, &second).await.is_empty(),
        "nobody is read twice"
    );

    // Each figure changed once: person 2's metrics one feed entry, person 1's none.
    let mut metrics_changes: HashMap<usize, usize> = HashMap::new();
    for c in engine
        .metrics()
        .changes(&tenant, cursor, 1000)
        .await
        .expect("feed")
        .into_iter()
        .filter(|c| c.kind == ChangeKind::AttendeeMetrics)
    {
        let id = c.registration_id.expect("registration").to_string();
        *metrics_changes.entry(ids[&id]).or_default() += 1;
    }
    assert_eq!(metrics_changes, HashMap::from([(2, 1)]));
}

both_backends!(
    a_viewing_weeks_later_is_read_once_by_the_long_tail,
    long_tail
);
