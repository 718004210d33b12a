//! The keyed digest of each attendee's interactions on their metrics row, on both backends:
//! a sync chunk whose interactions are unchanged neither reads, decrypts nor writes them (a
//! stored value that would not decrypt goes unnoticed), a changed poll answer with the same
//! figures replaces the attendee's interactions with one ATTENDEE_INTERACTIONS entry and no
//! ATTENDEE_METRICS one, and a row without a digest (stored before digests) is compared item
//! by item as before: no entry when unchanged, its digest filled in.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use integrationservice::domain::metrics::store_chunk;
use integrationservice::domain::{
    AttendeeActivity, AttendeeInteraction, ChangeKind, Engine, Error, InteractionKind,
    RegistrationId, RegistrationStatus, TenantId, WebinarId,
};
use integrationservice::testing::schema::attendee_interactions::dsl as i;
use integrationservice::testing::schema::attendee_metrics::dsl as m;
use integrationservice::testing::{AttendeeReport, FieldCipher, StoreError, WorkerConfig, now_ms};

use crate::both_backends;
use crate::engine::harness::{Db, Stack, fast_workers, registrant};

const PEOPLE: [&str; 3] = [
    "voter@example.com",
    "surveyed@example.com",
    "quiet@example.com",
];

fn interaction(kind: InteractionKind, prompt: &str, response: &str) -> AttendeeInteraction {
    AttendeeInteraction {
        kind,
        occurred_at: Some(1_700_000_000_000),
        reference: format!("{prompt}-id"),
        prompt: prompt.into(),
        response: response.into(),
        responded_at: None,
    }
}

/// The chunk ON24 reports: the voter's poll answer and the surveyed one's survey answer as
/// given; the figures stay the same whatever the answers.
fn reports(poll: &str, survey: &str) -> Vec<AttendeeReport> {
    let items = [
        vec![
            interaction(InteractionKind::Question, "Is there a recording?", ""),
            interaction(InteractionKind::Poll, "Which products?", poll),
        ],
        vec![interaction(InteractionKind::Survey, "How was it?", survey)],
        Vec::new(),
    ];
    PEOPLE
        .iter()
        .zip(items)
        .enumerate()
        .map(|(n, (email, interactions))| AttendeeReport {
            email: (*email).to_owned(),
            eventuserid: Some(n as i64 + 1),
            activity: AttendeeActivity {
                live_minutes: 20,
                cumulative_live_minutes: 20,
                engagement_score: 2.5,
                questions_asked: i64::from(n == 0),
                polls_answered: i64::from(n == 0),
                surveys_answered: i64::from(n == 1),
                ..AttendeeActivity::default()
            },
            interactions,
        })
        .collect()
}

/// Feed entries after `cursor` as (kind, registration id), and the last cursor.
async fn feed_after(
    engine: &Engine,
    tenant: &TenantId,
    cursor: i64,
) -> (Vec<(ChangeKind, RegistrationId)>, i64) {
    let (mut out, mut cursor) = (Vec::new(), cursor);
    loop {
        let page = engine
            .metrics()
            .changes(tenant, cursor, 1000)
            .await
            .expect("feed");
        let Some(last) = page.last() else {
            return (out, cursor);
        };
        cursor = last.seq;
        out.extend(
            page.iter()
                .filter(|c| {
                    [
                        ChangeKind::AttendeeMetrics,
                        ChangeKind::AttendeeInteractions,
                    ]
                    .contains(&c.kind)
                })
                .filter_map(|c| Some((c.kind, c.registration_id?))),
        );
    }
}

/// The tenant's stored interaction rows as they are at rest (key, position, sealed prompt
/// and response): a rewrite seals with fresh nonces, so any write shows.
async fn at_rest(engine: &Engine, tenant: &TenantId) -> Vec<(String, i32, String, String)> {
    let t = tenant.to_string();
    engine
        .store()
        .run(move |conn| {
            i::attendee_interactions
                .filter(i::tenant.eq(t))
                .order((i::email_hash.asc(), i::position.asc()))
                .select((i::email_hash, i::position, i::prompt, i::response))
                .load(conn)
                .map_err(StoreError::from)
        })
        .await
        .expect("interactions")
}

/// The tenant's metrics rows as (key, updated_at, digest), in key order.
async fn metrics_rows(engine: &Engine, tenant: &TenantId) -> Vec<(String, i64, Option<String>)> {
    let t = tenant.to_string();
    engine
        .store()
        .run(move |conn| {
            m::attendee_metrics
                .filter(m::tenant.eq(t))
                .order(m::email_hash.asc())
                .select((m::email_hash, m::updated_at, m::interactions_digest))
                .load(conn)
                .map_err(StoreError::from)
        })
        .await
        .expect("metrics")
}

async fn store(
    engine: &Engine,
    fields: &Arc<FieldCipher>,
    tenant: &TenantId,
    webinar: &WebinarId,
    reports: Vec<AttendeeReport>,
) -> Result<usize, Error> {
    let (f, t, w) = (fields.clone(), tenant.clone(), *webinar);
    engine
        .store()
        .transaction(move |conn| store_chunk(conn, &f, &t, &w, &reports, now_ms()))
        .await
}

async fn digest_spares_unchanged(db: Db) {
    // No scheduled sync: the test stores the chunks itself.
    let workers = WorkerConfig {
        metrics_poll_interval: Duration::from_secs(3_600),
        ..fast_workers()
    };
    let stack = Stack::start_with(db, workers, Duration::from_secs(5)).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (webinar, _) = stack.active_webinar(&tenant, "ev-digest").await;
    for email in PEOPLE {
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
            PEOPLE.len(),
            RegistrationStatus::Delivered,
            Duration::from_secs(20),
        )
        .await;
    let id: HashMap<&str, RegistrationId> = PEOPLE
        .iter()
        .map(|e| (*e, all.iter().find(|r| r.email == *e).expect("reg").id))
        .collect();
    let fields = integrationservice::testing::tenant_cipher(engine, &tenant)
        .await
        .expect("cipher");
    let (_, start) = feed_after(engine, &tenant, 0).await;

    assert_eq!(
        store(
            engine,
            &fields,
            &tenant,
            &webinar,
            reports("Webcasts", "Very")
        )
        .await,
        Ok(3)
    );
    let (feed, cursor) = feed_after(engine, &tenant, start).await;
    let interactions_of = |feed: &[(ChangeKind, RegistrationId)]| {
        let mut ids: Vec<RegistrationId> = feed
            .iter()
            .filter(|(k, _)| *k == ChangeKind::AttendeeInteractions)
            .map(|(_, r)| *r)
            .collect();
        ids.sort();
        ids
    };
    let mut expected = vec![id[PEOPLE[0]], id[PEOPLE[1]]];
    expected.sort();
    assert_eq!(interactions_of(&feed), expected, "the quiet one has none");
    let stored = at_rest(engine, &tenant).await;
    assert_eq!(stored.len(), 3);
    let rows = metrics_rows(engine, &tenant).await;
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|(_, _, d)| d.as_ref().is_some_and(|d| d.len() == 64)),
        "every row has a keyed digest: {rows:?}"
    );

    // (1) Unchanged: nothing read, decrypted, written or announced. One stored value is
    // made undecryptable meanwhile: a sync that opened it would fail.
    let (t, key) = (tenant.to_string(), stored[0].0.clone());
    // (The prompt and response are sealed as one record, stored in `response`.)
    let garbage = format!("enc2:{}", "A".repeat(40));
    let spoilt = garbage.clone();
    engine
        .store()
        .run(move |conn| {
            diesel::update(
                i::attendee_interactions
                    .filter(i::tenant.eq(t))
                    .filter(i::email_hash.eq(key))
                    .filter(i::position.eq(0)),
            )
            .set(i::response.eq(spoilt))
            .execute(conn)
            .map_err(StoreError::from)
        })
        .await
        .expect("spoil");
    assert_eq!(
        store(
            engine,
            &fields,
            &tenant,
            &webinar,
            reports("Webcasts", "Very")
        )
        .await,
        Ok(0)
    );
    let (feed, cursor) = feed_after(engine, &tenant, cursor).await;
    assert!(feed.is_empty(), "{feed:?}");
    let mut expected_rest = stored.clone();
    expected_rest[0].3 = garbage;
    assert_eq!(at_rest(engine, &tenant).await, expected_rest);
    assert_eq!(metrics_rows(engine, &tenant).await, rows);
    let (t, (key, _, _, response)) = (tenant.to_string(), stored[0].clone());
    engine
        .store()
        .run(move |conn| {
            diesel::update(
                i::attendee_interactions
                    .filter(i::tenant.eq(t))
                    .filter(i::email_hash.eq(key))
                    .filter(i::position.eq(0)),
            )
            .set(i::response.eq(response))
            .execute(conn)
            .map_err(StoreError::from)
        })
        .await
        .expect("restore");

    // (2) The voter changes their poll answer, the figures stay: their interactions are
    // replaced with one ATTENDEE_INTERACTIONS entry, their metrics row keeps its
    // `updated_at` and only its digest changes, no ATTENDEE_METRICS entry.
    assert_eq!(
        store(
            engine,
            &fields,
            &tenant,
            &webinar,
            reports("Events", "Very")
        )
        .await,
        Ok(0)
    );
    let (feed, cursor) = feed_after(engine, &tenant, cursor).await;
    assert_eq!(
        feed,
        vec![(ChangeKind::AttendeeInteractions, id[PEOPLE[0]])],
        "one interactions entry, no metrics entry"
    );
    let got = engine
        .metrics()
        .interactions(&tenant, &webinar, &id[PEOPLE[0]], 10, "")
        .await
        .expect("interactions")
        .items;
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[1].prompt.as_str(), got[1].response.as_str()),
        ("Which products?", "Events")
    );
    let after = metrics_rows(engine, &tenant).await;
    let changed: Vec<usize> = (0..3).filter(|&n| after[n].2 != rows[n].2).collect();
    assert_eq!(changed.len(), 1, "only the voter's digest changed");
    assert!(
        after
            .iter()
            .zip(&rows)
            .all(|(a, b)| a.0 == b.0 && a.1 == b.1),
        "no metrics row rewritten: {after:?} {rows:?}"
    );
    let stored = at_rest(engine, &tenant).await;

    // (3) Rows stored before digests (none on any row): compared item by item, so nothing
    // is announced or rewritten when unchanged, and the digests are filled in.
    let clear_digests = |engine: &Engine| {
        let t = tenant.to_string();
        let store = engine.store().clone();
        async move {
            store
                .run(move |conn| {
                    diesel::update(m::attendee_metrics.filter(m::tenant.eq(t)))
                        .set(m::interactions_digest.eq(None::<String>))
                        .execute(conn)
                        .map_err(StoreError::from)
                })
                .await
                .expect("clear digests")
        }
    };
    assert_eq!(clear_digests(engine).await, 3);
    assert_eq!(
        store(
            engine,
            &fields,
            &tenant,
            &webinar,
            reports("Events", "Very")
        )
        .await,
        Ok(0)
    );
    let (feed, cursor) = feed_after(engine, &tenant, cursor).await;
    assert!(feed.is_empty(), "{feed:?}");
    assert_eq!(at_rest(engine, &tenant).await, stored);
    assert_eq!(metrics_rows(engine, &tenant).await, after, "digests back");

    // Without a digest, a real change is still found: the surveyed one's answer.
    assert_eq!(clear_digests(engine).await, 3);
    assert_eq!(
        store(
            engine,
            &fields,
            &tenant,
            &webinar,
            reports("Events", "Not much")
        )
        .await,
        Ok(0)
    );
    let (feed, _) = feed_after(engine, &tenant, cursor).await;
    assert_eq!(
        feed,
        vec![(ChangeKind::AttendeeInteractions, id[PEOPLE[1]])]
    );
    let last = metrics_rows(engine, &tenant).await;
    assert!(last.iter().all(|(_, _, d)| d.is_some()), "{last:?}");
    assert_eq!(
        (0..3).filter(|&n| last[n].2 != after[n].2).count(),
        1,
        "only the surveyed one's digest differs"
    );
}

both_backends!(
    digest_spares_unchanged_interactions,
    digest_spares_unchanged
);
