//! Faults at ON24: with 20% 5xx answers, 5% hung calls and then a quota-403 burst, every
//! registration is still delivered exactly once per person (ON24 upserts by email).

use std::time::Duration;

use integrationservice::domain::RegistrationStatus;
use on24sim::FaultConfig;

use crate::both_backends;
use crate::engine::harness::{CLIENT_ID, Db, Stack, fast_workers, person};

async fn faults_then_quota(db: Db) {
    let stack = Stack::start_with(db, fast_workers(), Duration::from_millis(400)).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (webinar, event) = stack.active_webinar(&tenant, "ev-faults").await;

    let faults = FaultConfig {
        error_rate: 0.20,
        error_status: 503,
        hang_rate: 0.05,
        hang_ms: Some(1500),
        seed: 7,
        ..FaultConfig::default()
    };
    stack
        .sim
        .control()
        .set_faults(&faults)
        .await
        .expect("faults");
    // A quota burst too: 25 calls per second for this client.
    stack
        .sim
        .control()
        .set_quota(Some(CLIENT_ID), Some(25), Duration::from_secs(1))
        .await
        .expect("quota");
    engine
        .registrations()
        .register_batch(&tenant, &webinar, (0..100).map(person).collect())
        .await
        .expect("batch");
    let done = stack
        .wait_all(
            &tenant,
            &webinar,
            100,
            RegistrationStatus::Delivered,
            Duration::from_secs(120),
        )
        .await;
    assert!(done.iter().all(|r| r.eventuserid.is_some()));
    let journal = stack.sim.control().journal().await.expect("journal");
    let posts: Vec<_> = journal
        .iter()
        .filter(|e| e.method == "POST" && e.path.contains(&format!("/event/{event}/registrant")))
        .collect();
    assert!(
        posts.iter().any(|e| e.status >= 500),
        "5xx answers were injected"
    );
    assert!(
        journal.iter().any(|e| e.status == 403),
        "the quota burst happened"
    );
    stack.sim.control().clear_faults().await.expect("faults");
    stack
        .sim
        .control()
        .set_quota(Some(CLIENT_ID), None, Duration::from_secs(1))
        .await
        .expect("quota");
    let on24 = on24_client::On24Client::new(
        on24_client::On24ClientConfig::with_base_url(
            on24_client::BaseUrl::parse(&stack.sim.base_url).expect("url"),
        ),
        on24_client::On24Credentials::new(
            CLIENT_ID as u64,
            crate::engine::harness::TOKEN_KEY,
            crate::engine::harness::TOKEN_SECRET,
        ),
    )
    .expect("client");
    let listed = on24
        .list_event_registrants(event as u64)
        .await
        .expect("registrants");
    assert_eq!(
        listed.registrants.len(),
        100,
        "no loss, no duplicate registrant"
    );
}

both_backends!(faults_and_quota_still_deliver_everything, faults_then_quota);
