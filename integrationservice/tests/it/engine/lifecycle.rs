//! The full life of a tenant on both backends: credentials stored encrypted, a webinar created
//! at the simulator, 100 registrations delivered (checked in the simulator's journal and its
//! registrant list), simulated viewing, a metrics sync, and metrics + change feed read back.

use std::time::Duration;

use integrationservice::domain::{ChangeKind, CredentialStatus, Error, RegistrationStatus};
use on24sim::ViewingRequest;

use crate::both_backends;
use crate::engine::harness::{Db, Stack, person, tenant_id};

async fn full_life(db: Db) {
    let stack = Stack::start(db).await;
    let tenant = stack.tenant.clone();
    let engine = &stack.engine;

    // Before credentials, the integration is disabled for the tenant.
    let refused = engine
        .webinars()
        .create(&tenant, crate::engine::harness::webinar_input("ev-1"), None)
        .await;
    assert!(
        matches!(refused, Err(Error::IntegrationDisabled { .. })),
        "{refused:?}"
    );

    stack.put_credentials(&tenant).await;
    let config = engine.providers().get(&tenant).await.expect("get config");
    assert_eq!(config.status, CredentialStatus::Healthy);
    assert_eq!(config.key_last_four, "0001");

    let (webinar, event) = stack.active_webinar(&tenant, "ev-1").await;
    let w = engine
        .webinars()
        .get(&tenant, &webinar)
        .await
        .expect("webinar");
    assert!(w.audience_url.is_some(), "ON24's audience URL is kept");

    let outcomes = engine
        .registrations()
        .register_batch(&tenant, &webinar, (0..100).map(person).collect())
        .await
        .expect("batch");
    assert_eq!(outcomes.len(), 100);
    assert!(outcomes.iter().all(|o| o.created && o.result.is_ok()));
    let delivered = stack
        .wait_all(
            &tenant,
            &webinar,
            100,
            RegistrationStatus::Delivered,
            Duration::from_secs(60),
        )
        .await;
    assert!(
        delivered
            .iter()
            .all(|r| r.eventuserid.is_some() && r.delivered_at.is_some())
    );

    // What reached "ON24": one registrant POST per person, and ON24 lists all 100.
    assert_eq!(
        stack
            .journal_count("POST", &format!("/event/{event}/registrant"))
            .await,
        100
    );
    let on24 = on24_client::On24Client::new(
        on24_client::On24ClientConfig::with_base_url(
            on24_client::BaseUrl::parse(&stack.sim.base_url).expect("url"),
        ),
        on24_client::On24Credentials::new(
            crate::engine::harness::CLIENT_ID as u64,
            crate::engine::harness::TOKEN_KEY,
            crate::engine::harness::TOKEN_SECRET,
        ),
    )
    .expect("client");
    let listed = on24
        .list_event_registrants(event as u64)
        .await
        .expect("registrants");
    assert_eq!(listed.registrants.len(), 100);

    // Registering the same person again is idempotent: no new registration, no new delivery.
    let (again, created) = engine
        .registrations()
        .register(&tenant, &webinar, person(7))
        .await
        .expect("again");
    assert!(!created);
    assert_eq!(again.email, "person7@example.com");

    // Simulated viewing for ten people, then a sync.
    for n in 0..10 {
        stack
            .sim
            .control()
            .add_viewing(
                event,
                &ViewingRequest {
                    email: format!("person{n}@example.com"),
                    live_minutes: Some(30.0 + n as f64),
                    archive_minutes: Some(5.0),
                    questions: 2,
                    polls: 1,
                    ..ViewingRequest::default()
                },
            )
            .await
            .expect("viewing");
    }
    let before = engine
        .metrics()
        .changes(&tenant, 0, 1000)
        .await
        .expect("feed");
    let cursor = before.last().map_or(0, |c| c.seq);
    let report = engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");
    assert!(report.attendees >= 10, "{report:?}");
    let attendees = engine
        .metrics()
        .attendees(&tenant, &webinar, 1000, "")
        .await
        .expect("metrics")
        .items;
    let watched: Vec<_> = attendees
        .iter()
        .filter(|a| a.activity.live_minutes > 0)
        .collect();
    assert_eq!(watched.len(), 10);
    let p3 = watched
        .iter()
        .find(|a| a.email == "person3@example.com")
        .expect("person3");
    assert_eq!(p3.activity.live_minutes, 33);
    assert_eq!(p3.activity.questions_asked, 2);
    assert!(
        p3.registration_id.is_some(),
        "metrics are joined to the registration"
    );
    assert!((p3.attendance_percent - 55.0).abs() < 0.01);
    let agg = engine
        .metrics()
        .webinar(&tenant, &webinar)
        .await
        .expect("aggregates");
    assert_eq!(agg.live_attendees, 10);
    assert_eq!(agg.registrations_by_status.get("DELIVERED"), Some(&100));

    // The change feed after the cursor holds the metrics changes, in order; a second sync
    // with nothing new adds nothing.
    let after = engine
        .metrics()
        .changes(&tenant, cursor, 1000)
        .await
        .expect("feed");
    let metric_changes = after
        .iter()
        .filter(|c| c.kind == ChangeKind::AttendeeMetrics)
        .count();
    assert!(metric_changes >= 10, "{metric_changes}");
    assert!(after.windows(2).all(|w| w[0].seq < w[1].seq));
    let again = engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");
    assert_eq!(again.changed, 0);
    // More viewing for one person: the next sync replaces that row only.
    stack
        .sim
        .control()
        .add_viewing(
            event,
            &ViewingRequest {
                email: "person3@example.com".into(),
                archive_minutes: Some(20.0),
                ..ViewingRequest::default()
            },
        )
        .await
        .expect("viewing");
    let third = engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");
    assert_eq!(third.changed, 1);
    let attendees = engine
        .metrics()
        .attendees(&tenant, &webinar, 1000, "")
        .await
        .expect("metrics")
        .items;
    let p3 = attendees
        .iter()
        .find(|a| a.email == "person3@example.com")
        .expect("person3");
    assert!(
        p3.activity.archive_minutes >= 20,
        "{}",
        p3.activity.archive_minutes
    );
    assert_eq!(p3.activity.live_minutes, 33);
    // Live and on-demand activity keep their own first/last times, on-demand after live.
    let (Some(live_last), Some(archive_first)) = (
        p3.activity.last_live_activity_at,
        p3.activity.first_archive_activity_at,
    ) else {
        panic!("activity times missing: {p3:?}");
    };
    assert!(
        p3.activity
            .first_live_activity_at
            .is_some_and(|t| t <= live_last)
    );
    assert!(
        p3.activity
            .last_archive_activity_at
            .is_some_and(|t| t >= archive_first)
    );
    assert!(
        archive_first > live_last,
        "on-demand viewing follows the live event"
    );
    let last = engine
        .metrics()
        .changes(&tenant, cursor, 1000)
        .await
        .expect("feed")
        .last()
        .expect("changes")
        .seq;
    let none = engine
        .metrics()
        .wait_changes(&tenant, last, 100, Duration::from_millis(200))
        .await
        .expect("wait");
    assert!(none.is_empty());

    // Another tenant sees nothing of this one.
    assert!(
        engine
            .metrics()
            .changes(&tenant_id("other"), 0, 1000)
            .await
            .expect("feed")
            .is_empty()
    );
    assert!(matches!(
        engine.webinars().get(&tenant_id("other"), &webinar).await,
        Err(Error::NotFound { .. })
    ));
}

both_backends!(full_life_of_a_tenant, full_life);
