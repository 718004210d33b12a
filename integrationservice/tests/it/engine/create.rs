//! Creating a webinar is the one ON24 call that is not idempotent. When ON24 creates the
//! webinar but its answer is lost ("commit then time out"), the retry finds the webinar by
//! our marker (its campaign code) and links it: exactly one webinar exists at ON24.

use std::time::Duration;

use integrationservice::testing::event_marker;
use on24_client::{DateFilterMode, DateRange};
use on24sim::FaultConfig;

use crate::both_backends;
use crate::engine::harness::{Db, Stack, eventually, fast_workers, webinar_input};

async fn lost_create_answer_is_adopted(db: Db) {
    // ON24 calls give up after 400 ms; the lost answer stays silent for 1.5 s.
    let stack = Stack::start_with(db, fast_workers(), Duration::from_millis(400)).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    stack.sim.control().clear_journal().await.expect("journal");
    stack
        .sim
        .control()
        .set_faults(&FaultConfig {
            lost_answer_rate: 1.0,
            hang_ms: Some(1500),
            only_method: Some("POST".into()),
            only_path_suffix: Some("/event".into()),
            max_faults: Some(1),
            ..FaultConfig::default()
        })
        .await
        .expect("faults");

    let w = engine
        .webinars()
        .create(&tenant, webinar_input("ev-lost-answer"), None)
        .await
        .expect("create webinar");
    let linked = eventually("the webinar linked", Duration::from_secs(20), || async {
        engine
            .webinars()
            .get(&tenant, &w.id)
            .await
            .ok()?
            .on24_event_id
    })
    .await;

    let journal = stack.sim.control().journal().await.expect("journal");
    let creates: Vec<_> = journal
        .iter()
        .filter(|e| e.method == "POST" && e.path.ends_with("/event"))
        .collect();
    assert_eq!(creates.len(), 1, "one create call: {creates:?}");
    assert_eq!(
        creates[0].fault.as_deref(),
        Some("lost"),
        "its answer was lost"
    );
    assert_eq!(creates[0].status, 200, "ON24 did create the webinar");
    assert!(
        journal
            .iter()
            .any(|e| e.method == "GET" && e.path.ends_with("/event") && e.seq > creates[0].seq),
        "the retry looked the webinar up"
    );

    stack.sim.control().clear_faults().await.expect("faults");
    let today = chrono::Utc::now().date_naive();
    let events = stack
        .on24()
        .list_events(DateRange {
            start: Some((today - chrono::Days::new(1)).to_string()),
            end: Some((today + chrono::Days::new(1)).to_string()),
            mode: Some(DateFilterMode::Creation),
        })
        .await
        .expect("events");
    let marker = event_marker(&w.id.to_string());
    let ours: Vec<_> = events
        .iter()
        .filter(|e| e.campaigncode.as_deref() == Some(marker.as_str()))
        .collect();
    assert_eq!(ours.len(), 1, "exactly one webinar at ON24");
    assert_eq!(
        ours[0].eventid,
        Some(linked as u64),
        "and it is the linked one"
    );
    assert_eq!(events.len(), 1, "no other webinar either");
}

both_backends!(
    lost_create_answer_links_the_one_webinar,
    lost_create_answer_is_adopted
);
