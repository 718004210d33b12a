//! Interactions item by item (questions with answers, polls, surveys, resources, calls to
//! action, certifications) seeded at the simulator come back per attendee through a metrics
//! sync over HTTP, on both backends: listed in report order, announced once in the feed, kept
//! when unchanged, replaced when ON24's change (a question answered later), and erased by
//! forget.

use std::time::Duration;

use integrationservice::domain::{
    AttendeeInteraction, ChangeKind, Email, Engine, InteractionKind, RegistrationId,
    RegistrationStatus, TenantId, WebinarId,
};
use integrationservice::testing::{StoreError, WorkerConfig};
use on24sim::{InteractionItem, Interactions, ViewingRequest};

use crate::both_backends;
use crate::engine::harness::{Db, Stack, fast_workers, registrant};

fn item(text: &str, answer: Option<&str>, answers: &[&str]) -> InteractionItem {
    InteractionItem {
        text: text.into(),
        answer: answer.map(Into::into),
        answers: answers.iter().map(|a| (*a).to_owned()).collect(),
        ..InteractionItem::default()
    }
}

async fn listed(
    engine: &Engine,
    tenant: &TenantId,
    webinar: &WebinarId,
    registration: &RegistrationId,
) -> Vec<AttendeeInteraction> {
    // Pages of two, so the keyset paging is used too.
    let (mut out, mut token) = (Vec::new(), String::new());
    loop {
        let page = engine
            .metrics()
            .interactions(tenant, webinar, registration, 2, &token)
            .await
            .expect("interactions");
        out.extend(page.items);
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

/// ATTENDEE_INTERACTIONS entries after `cursor` (registration ids) and the last cursor.
async fn interaction_changes(
    engine: &Engine,
    tenant: &TenantId,
    cursor: i64,
) -> (Vec<String>, i64) {
    let (mut ids, mut cursor) = (Vec::new(), cursor);
    loop {
        let page = engine
            .metrics()
            .changes(tenant, cursor, 1000)
            .await
            .expect("feed");
        let Some(last) = page.last() else {
            return (ids, cursor);
        };
        cursor = last.seq;
        ids.extend(
            page.iter()
                .filter(|c| c.kind == ChangeKind::AttendeeInteractions)
                .filter_map(|c| c.registration_id.map(|r| r.to_string())),
        );
    }
}

async fn interactions_per_attendee(db: Db) {
    let workers = WorkerConfig {
        metrics_poll_interval: Duration::from_secs(3_600),
        ..fast_workers()
    };
    let stack = Stack::start_with(db, workers, Duration::from_secs(5)).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (webinar, event) = stack.active_webinar(&tenant, "ev-interactions").await;
    for email in ["asker@example.com", "quiet@example.com"] {
        engine
            .registrations()
            .register(&tenant, &webinar, registrant(email, "Some", "One"))
            .await
            .expect("register");
    }
    let all = stack
        .wait_all(
            &tenant,
            &webinar,
            2,
            RegistrationStatus::Delivered,
            Duration::from_secs(20),
        )
        .await;
    let id_of = |email: &str| all.iter().find(|r| r.email == email).expect("reg").id;
    let (asker, quiet) = (id_of("asker@example.com"), id_of("quiet@example.com"));

    let control = stack.sim.control();
    let seeded = Interactions {
        questions: vec![
            item("Is there a recording?", Some("Yes, tomorrow."), &[]),
            item("What about pricing?", None, &[]),
        ],
        polls: vec![item("Which products?", None, &["Webcasts", "Events"])],
        surveys: vec![item("How valuable was it?", None, &["Very"])],
        resources: vec![item("Slides.pdf", None, &[])],
        calls_to_action: vec![item("Book a demo", Some("https://example.com/demo"), &[])],
        certifications: vec![item("Certification 1", Some("C"), &[])],
    };
    control
        .add_viewing(
            event,
            &ViewingRequest {
                email: "asker@example.com".into(),
                live_minutes: Some(20.0),
                interactions: seeded,
                ..ViewingRequest::default()
            },
        )
        .await
        .expect("viewing");
    control
        .add_viewing(
            event,
            &ViewingRequest {
                email: "quiet@example.com".into(),
                live_minutes: Some(5.0),
                ..ViewingRequest::default()
            },
        )
        .await
        .expect("viewing");
    let (_, start) = interaction_changes(engine, &tenant, 0).await;

    engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");
    let got = listed(engine, &tenant, &webinar, &asker).await;
    let view: Vec<(InteractionKind, &str, &str)> = got
        .iter()
        .map(|i| (i.kind, i.prompt.as_str(), i.response.as_str()))
        .collect();
    assert_eq!(
        view,
        vec![
            (
                InteractionKind::Question,
                "Is there a recording?",
                "Yes, tomorrow."
            ),
            (InteractionKind::Question, "What about pricing?", ""),
            (InteractionKind::Poll, "Which products?", "Webcasts; Events"),
            (InteractionKind::Survey, "How valuable was it?", "Very"),
            (InteractionKind::Resource, "Slides.pdf", ""),
            (
                InteractionKind::CallToAction,
                "Book a demo",
                "https://example.com/demo"
            ),
            (InteractionKind::Certification, "Certification 1", "C"),
        ]
    );
    assert!(
        got.iter()
            .all(|i| i.occurred_at.is_some() && !i.reference.is_empty())
    );
    assert!(got[0].responded_at.is_some() && got[1].responded_at.is_none());
    assert!(listed(engine, &tenant, &webinar, &quiet).await.is_empty());
    let (changes, cursor) = interaction_changes(engine, &tenant, start).await;
    assert_eq!(
        changes,
        vec![asker.to_string()],
        "announced once, for the asker"
    );

    // Unchanged at ON24: nothing written or announced.
    engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");
    let (changes, cursor) = interaction_changes(engine, &tenant, cursor).await;
    assert!(changes.is_empty(), "{changes:?}");

    // The quiet one asks a question later: only their list changes.
    control
        .add_viewing(
            event,
            &ViewingRequest {
                email: "quiet@example.com".into(),
                interactions: Interactions {
                    questions: vec![item("Late question", None, &[])],
                    ..Interactions::default()
                },
                ..ViewingRequest::default()
            },
        )
        .await
        .expect("late question");
    engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");
    let late = listed(engine, &tenant, &webinar, &quiet).await;
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].prompt, "Late question");
    let (changes, _) = interaction_changes(engine, &tenant, cursor).await;
    assert_eq!(changes, vec![quiet.to_string()]);

    // Forget erases the asker's interactions, not the other's.
    engine
        .registrations()
        .forget(
            &tenant,
            &Email::parse("asker@example.com").expect("email"),
            false,
        )
        .await
        .expect("forget");
    assert!(listed(engine, &tenant, &webinar, &asker).await.is_empty());
    let t = tenant.to_string();
    let left: Vec<String> = engine
        .store()
        .run(move |conn| {
            use diesel::prelude::*;
            use integrationservice::testing::schema::attendee_interactions::dsl as i;
            i::attendee_interactions
                .filter(i::tenant.eq(t))
                .select(i::email)
                .load::<String>(conn)
                .map_err(StoreError::from)
        })
        .await
        .expect("rows");
    // The emails are stored sealed: one row left, and it is the quiet attendee's.
    assert_eq!(left.len(), 1);
    assert!(!left[0].contains("example.com"), "sealed at rest");
    assert_eq!(listed(engine, &tenant, &webinar, &quiet).await.len(), 1);
}

both_backends!(
    interactions_come_back_per_attendee,
    interactions_per_attendee
);
