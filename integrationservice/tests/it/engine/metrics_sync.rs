//! A metrics sync bigger than one chunk (`domain::metrics::SYNC_CHUNK` attendees per
//! transaction): every attendee is stored, each changed registered attendee gets exactly one
//! ATTENDEE_METRICS feed entry and unchanged ones none, a sync stopped after its first chunk
//! is completed by the next one, and the webinar's last sync time moves only at the end.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use integrationservice::domain::metrics::{SYNC_CHUNK, store_chunk};
use integrationservice::domain::{
    ChangeKind, Engine, Error, RegistrationInput, RegistrationStatus, TenantId,
};
use integrationservice::testing::On24Provider;
use integrationservice::testing::now_ms;
use integrationservice::testing::{ProviderCredentials, WebinarProvider};
use integrationservice::testing::{StoreError, WorkerConfig, providers};
use on24sim::{SeedAttendees, ViewingRequest};
use secrecy::SecretString;

use crate::both_backends;
use crate::engine::harness::{
    CLIENT_ID, Db, Stack, TOKEN_KEY, TOKEN_SECRET, fast_workers, registrant,
};

/// Attendees at ON24: more than two chunks, the last one partial.
const ATTENDEES: usize = 2 * SYNC_CHUNK + SYNC_CHUNK / 4;
/// Every tenth attendee is registered with us (the feed names registrations).
const EVERY: usize = 10;

fn email(n: usize) -> String {
    format!("attendee{n}@example.com")
}

fn seed(first: usize, count: usize) -> SeedAttendees {
    SeedAttendees {
        count: u32::try_from(count).expect("count"),
        first: first as u64,
        email_prefix: "attendee".into(),
        viewing: ViewingRequest {
            live_minutes: Some(10.0),
            questions: 1,
            ..ViewingRequest::default()
        },
        ..SeedAttendees::default()
    }
}

/// ATTENDEE_METRICS entries after `cursor`, as registration id -> count.
async fn metric_changes(
    engine: &Engine,
    tenant: &TenantId,
    cursor: i64,
) -> (HashMap<String, usize>, i64) {
    let (mut by_registration, mut cursor) = (HashMap::new(), cursor);
    loop {
        let page = engine
            .metrics()
            .changes(tenant, cursor, 1000)
            .await
            .expect("feed");
        let Some(last) = page.last() else {
            return (by_registration, cursor);
        };
        cursor = last.seq;
        for c in page
            .iter()
            .filter(|c| c.kind == ChangeKind::AttendeeMetrics)
        {
            let id = c.registration_id.expect("registration id").to_string();
            *by_registration.entry(id).or_insert(0) += 1;
        }
    }
}

async fn sync_in_chunks(db: Db) {
    // The report's read (one ON24 call) is timed; a debug build on a busy machine needs more
    // than the harness's 5 s for thousands of attendees.
    let stack = Stack::start_with(db, fast_workers(), Duration::from_secs(30)).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (webinar, event) = stack.active_webinar(&tenant, "ev-chunks").await;

    // Every tenth attendee registered and delivered first, so ON24 knows them already.
    let people: Vec<RegistrationInput> = (0..ATTENDEES)
        .step_by(EVERY)
        .map(|n| registrant(&email(n), &format!("First{n}"), "Seeded"))
        .collect();
    let registered = people.len();
    let mut crm_ids: HashMap<String, String> = HashMap::new();
    for batch in people.chunks(1000) {
        for outcome in engine
            .registrations()
            .register_batch(&tenant, &webinar, batch.to_vec())
            .await
            .expect("register")
        {
            let r = outcome.result.expect("registered");
            crm_ids.insert(r.email.clone(), r.id.to_string());
        }
    }
    stack
        .wait_all(
            &tenant,
            &webinar,
            registered,
            RegistrationStatus::Delivered,
            Duration::from_secs(60),
        )
        .await;
    let seeded = stack
        .sim
        .control()
        .seed_attendees(event, &seed(0, ATTENDEES))
        .await
        .expect("seed");
    assert_eq!(seeded.seeded as usize, ATTENDEES);
    let (_, start) = metric_changes(engine, &tenant, 0).await;

    // A sync that stopped after its first chunk (a crash): that chunk is stored with its
    // feed entries, the webinar is not marked synced.
    let provider = On24Provider::with_request_timeout(Duration::from_secs(30)).with_egress(
        on24_client::EgressPolicy::new(on24_client::DEFAULT_ON24_HOSTS, true),
    );
    let creds = ProviderCredentials {
        client_id: CLIENT_ID as u64,
        region: "NA".into(),
        base_url: Some(stack.sim.base_url.clone()),
        token_key: SecretString::from(TOKEN_KEY.to_owned()),
        token_secret: SecretString::from(TOKEN_SECRET.to_owned()),
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(ATTENDEES.div_ceil(SYNC_CHUNK));
    provider
        .attendee_chunks(&creds, event, None, SYNC_CHUNK, tx)
        .await
        .expect("report");
    let mut chunks = Vec::new();
    while let Some(chunk) = rx.recv().await {
        chunks.push(chunk);
    }
    assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), ATTENDEES);
    let first = chunks.swap_remove(0);
    assert_eq!(first.len(), SYNC_CHUNK);
    let in_first: BTreeSet<String> = first.iter().map(|r| r.email.clone()).collect();
    let (t, w) = (tenant.clone(), webinar);
    let fields = integrationservice::testing::tenant_cipher(engine, &tenant)
        .await
        .expect("cipher");
    let stored = engine
        .store()
        .transaction(move |conn| store_chunk(conn, &fields, &t, &w, &first, now_ms()))
        .await
        .expect("first chunk");
    assert_eq!(stored, SYNC_CHUNK);
    let partial = engine
        .metrics()
        .webinar(&tenant, &webinar)
        .await
        .expect("metrics");
    assert_eq!(partial.attendees, SYNC_CHUNK as i64);
    assert_eq!(
        partial.last_metrics_at, None,
        "not synced before every chunk is stored"
    );

    // The next sync brings in the attendees who registered at ON24 only (registrations of
    // origin ON24), then stores the rest: only the rows not stored yet change.
    let report = engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");
    assert_eq!(report.attendees, ATTENDEES);
    assert_eq!(report.changed, ATTENDEES - SYNC_CHUNK);
    assert_eq!(report.registrations_imported, ATTENDEES - registered);
    let ids: HashMap<String, String> = stack
        .list_all(&tenant, &webinar)
        .await
        .into_iter()
        .map(|r| (r.email.clone(), r.id.to_string()))
        .collect();
    assert_eq!(ids.len(), ATTENDEES, "every attendee is registered now");
    assert!(
        crm_ids.iter().all(|(e, id)| ids.get(e) == Some(id)),
        "the CRM's registrations are kept, not duplicated"
    );
    let full = engine
        .metrics()
        .webinar(&tenant, &webinar)
        .await
        .expect("metrics");
    assert_eq!(full.attendees, ATTENDEES as i64, "every attendee stored");
    assert_eq!(full.total_live_minutes, 10 * ATTENDEES as i64);
    assert_eq!(full.questions_asked, ATTENDEES as i64);
    assert!(full.last_metrics_at.is_some());
    // Over the stopped sync and this one: one entry per attendee registered when their row
    // was written (the stopped sync's chunk: the CRM's people only), no more.
    let (changes, cursor) = metric_changes(engine, &tenant, start).await;
    assert!(
        changes.values().all(|&n| n == 1),
        "no attendee twice: {changes:?}"
    );
    let expected: BTreeSet<&String> = ids
        .iter()
        .filter(|(e, _)| !in_first.contains(*e) || crm_ids.contains_key(*e))
        .map(|(_, id)| id)
        .collect();
    let got: BTreeSet<&String> = changes.keys().collect();
    assert_eq!(
        got.len(),
        expected.len(),
        "one entry per registered attendee; extra {:?}, missing {:?}",
        got.difference(&expected).take(5).collect::<Vec<_>>(),
        expected.difference(&got).take(5).collect::<Vec<_>>()
    );
    assert_eq!(got, expected);

    // Nothing changed at ON24: nothing written, no feed entry.
    let again = engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");
    assert_eq!((again.attendees, again.changed), (ATTENDEES, 0));
    let (changes, cursor) = metric_changes(engine, &tenant, cursor).await;
    assert!(
        changes.is_empty(),
        "unchanged rows wrote feed entries: {changes:?}"
    );

    // More viewing for ten attendees across the first chunk boundary and ten at the end:
    // exactly those rows change, each (all registered now) with one entry.
    for first in [SYNC_CHUNK - 5, ATTENDEES - 10] {
        stack
            .sim
            .control()
            .seed_attendees(event, &seed(first, 10))
            .await
            .expect("seed more");
    }
    let more = engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");
    assert_eq!((more.attendees, more.changed), (ATTENDEES, 20));
    let after = engine
        .metrics()
        .webinar(&tenant, &webinar)
        .await
        .expect("metrics");
    assert_eq!(after.attendees, ATTENDEES as i64);
    assert_eq!(after.total_live_minutes, 10 * (ATTENDEES as i64 + 20));
    let (changes, _) = metric_changes(engine, &tenant, cursor).await;
    let expected: BTreeSet<&String> = (SYNC_CHUNK - 5..SYNC_CHUNK + 5)
        .chain(ATTENDEES - 10..ATTENDEES)
        .map(|n| &ids[&email(n)])
        .collect();
    assert_eq!(changes.keys().collect::<BTreeSet<_>>(), expected);
    assert!(changes.values().all(|&n| n == 1), "{changes:?}");
}

both_backends!(sync_larger_than_a_chunk, sync_in_chunks);

/// During the tenant's ON24 quota slow-down a sync is refused without calling ON24 (simulator
/// journal); once it is over, two syncs of the same webinar at once make one pull.
async fn sync_slow_down_and_single_flight(db: Db) {
    // The poller's only pass runs at start, before the webinar exists: every ON24 call on
    // the webinar below is the test's own.
    let workers = WorkerConfig {
        metrics_poll_interval: Duration::from_secs(3600),
        ..fast_workers()
    };
    let stack = Stack::start_with(db, workers, Duration::from_secs(10)).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (webinar, event) = stack.active_webinar(&tenant, "ev-fairness").await;
    let path = format!("/event/{event}");
    let store = engine.store().clone();
    let set_throttle = |until: i64, level: i32| {
        let (store, tenant) = (store.clone(), tenant.clone());
        async move {
            store
                .run(move |conn| {
                    providers::throttle(conn, &tenant, until, level).map_err(StoreError::from)
                })
                .await
                .expect("throttle");
        }
    };

    set_throttle(now_ms() + 60_000, 1).await;
    let before = stack.journal_count("GET", &path).await;
    let refused = engine.metrics().sync_now(&tenant, &webinar).await;
    assert!(
        matches!(refused, Err(Error::SlowedDown { retry_after_ms }) if retry_after_ms > 0 && retry_after_ms <= 60_000),
        "{refused:?}"
    );
    assert_eq!(
        stack.journal_count("GET", &path).await,
        before,
        "no ON24 call during the slow-down"
    );

    set_throttle(now_ms() - 1, 0).await;
    let alone = engine
        .metrics()
        .sync_now(&tenant, &webinar)
        .await
        .expect("sync");
    let one_pull = stack.journal_count("GET", &path).await - before;
    assert!(one_pull > 0, "a sync calls ON24");

    let start = stack.journal_count("GET", &path).await;
    let metrics = engine.metrics();
    let (a, b) = tokio::join!(
        metrics.sync_now(&tenant, &webinar),
        metrics.sync_now(&tenant, &webinar)
    );
    let (a, b) = (a.expect("first"), b.expect("second joins the first"));
    assert_eq!(a, b);
    assert_eq!(a.attendees, alone.attendees);
    assert_eq!(
        stack.journal_count("GET", &path).await - start,
        one_pull,
        "two syncs at once made one pull"
    );
}

both_backends!(
    sync_respects_slow_down_and_runs_once_per_webinar,
    sync_slow_down_and_single_flight
);
