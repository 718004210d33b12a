//! Backfill of past ON24 events on both backends: the events whose live start is in the range
//! and whose broadcast ended are linked (read from ON24's event list with its date filters),
//! the people who registered at ON24 come back as registrations of origin ON24 and their
//! metrics follow; a second backfill links nothing twice.

use std::time::Duration;

use integrationservice::domain::RegistrationOrigin;
use integrationservice::testing::now_ms;
use on24_client::NewEvent;
use on24sim::ViewingRequest;

use crate::both_backends;
use crate::engine::harness::{Db, Stack, eventually};

const DAY_MS: i64 = 86_400_000;

/// Creates an hour-long event at ON24 directly (not through the service) starting `ago_ms`
/// ago; returns its id.
async fn event_at_on24(stack: &Stack, title: &str, ago_ms: i64) -> i64 {
    let start = chrono::DateTime::from_timestamp_millis(now_ms() - ago_ms)
        .expect("start")
        .fixed_offset();
    let created = stack
        .on24()
        .create_event(&NewEvent::new(title, start, 60))
        .await
        .expect("event created at ON24");
    i64::try_from(created.event_id.expect("event id")).expect("event id")
}

async fn backfill(db: Db) {
    let stack = Stack::start(db).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    // A webinar the service created itself (ended two hours ago): found, already linked.
    let (own, own_event) = stack.active_webinar(&tenant, "ev-own").await;

    let control = stack.sim.control();
    let mut past = Vec::new();
    for (n, ago) in [(1, 10 * DAY_MS), (2, 5 * DAY_MS), (3, 3 * 3_600_000)] {
        let event = event_at_on24(&stack, &format!("Past {n}"), ago).await;
        let email = format!("past{n}@example.com");
        control
            .register_at_on24(
                event,
                &[
                    ("email", email.as_str()),
                    ("firstName", "Past"),
                    ("lastName", "Person"),
                ],
            )
            .await
            .expect("registered at ON24");
        control
            .add_viewing(
                event,
                &ViewingRequest {
                    email: email.clone(),
                    live_minutes: Some(30.0),
                    ..ViewingRequest::default()
                },
            )
            .await
            .expect("viewing");
        past.push((event, email));
    }
    // Out of range: before `since`, and not ended yet.
    let too_old = event_at_on24(&stack, "Too old", 40 * DAY_MS).await;
    let live_now = event_at_on24(&stack, "Live now", 10 * 60_000).await;

    let since = now_ms() - 20 * DAY_MS;
    let report = engine
        .webinars()
        .backfill(&tenant, since)
        .await
        .expect("backfill");
    assert_eq!((report.found, report.already_linked), (4, 1));
    let linked: Vec<i64> = report
        .linked
        .iter()
        .map(|w| w.on24_event_id.expect("event id"))
        .collect();
    let mut expected: Vec<i64> = past.iter().map(|(e, _)| *e).collect();
    expected.sort_unstable();
    assert_eq!(linked, expected);
    assert!(
        !linked.contains(&too_old) && !linked.contains(&live_now) && !linked.contains(&own_event)
    );
    for w in &report.linked {
        assert!(w.linked);
        assert_eq!(
            w.crm_reference_id,
            format!("on24-{}", w.on24_event_id.expect("event id"))
        );
        assert!(w.title.starts_with("Past "), "{}", w.title);
        assert_eq!(w.duration_minutes, 60);
    }

    // Each event's ON24 registrant comes back with origin ON24, and their metrics follow.
    for w in &report.linked {
        let event = w.on24_event_id.expect("event id");
        let email = &past
            .iter()
            .find(|(e, _)| *e == event)
            .expect("past event")
            .1;
        let registered = eventually(
            "the ON24 registrant brought in",
            Duration::from_secs(30),
            || async {
                stack
                    .list_all(&tenant, &w.id)
                    .await
                    .into_iter()
                    .find(|r| &r.email == email)
            },
        )
        .await;
        assert_eq!(registered.origin, RegistrationOrigin::On24);
        let metrics = eventually("their metrics", Duration::from_secs(30), || async {
            engine
                .metrics()
                .attendees(&tenant, &w.id, 100, "")
                .await
                .ok()?
                .items
                .into_iter()
                .find(|a| &a.email == email)
        })
        .await;
        assert_eq!(metrics.activity.live_minutes, 30);
        assert!(metrics.registration_id.is_some());
    }

    // A second backfill links nothing twice.
    let again = engine
        .webinars()
        .backfill(&tenant, since)
        .await
        .expect("backfill again");
    assert!(again.linked.is_empty());
    assert_eq!((again.found, again.already_linked), (4, 4));
    let all = engine
        .webinars()
        .list(&tenant, false, 100, "")
        .await
        .expect("list");
    assert_eq!(all.items.len(), 4);
    assert!(all.items.iter().any(|w| w.id == own));

    // The range is checked before any call.
    let later = now_ms() + DAY_MS;
    assert!(engine.webinars().backfill(&tenant, later).await.is_err());
}

both_backends!(backfill_links_three_past_events_once, backfill);
