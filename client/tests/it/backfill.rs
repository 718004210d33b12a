//! `webinarctl backfill` against the whole local stack: three past events created at the
//! simulator directly (not through the service), each with a person registered there, are
//! linked with their registrant brought in as origin ON24; a second run links nothing.

use std::time::Duration;

use on24_client::{BaseUrl, NewEvent, On24Client, On24ClientConfig, On24Credentials};
use serde_json::Value;

use crate::stack::Stack;

/// An ON24 client of the stack's demo account at the simulator.
pub(crate) fn demo_on24(stack: &Stack) -> On24Client {
    let json: Value =
        serde_json::from_slice(&std::fs::read(&stack.stack_json).expect("stack.json"))
            .expect("stack.json is JSON");
    let on24 = &json["demo"]["on24"];
    let text = |k: &str| on24[k].as_str().expect(k).to_owned();
    On24Client::new(
        On24ClientConfig::with_base_url(BaseUrl::parse(&text("base_url")).expect("url")),
        On24Credentials::new(
            text("client_id").parse().expect("client id"),
            text("access_token_key"),
            text("access_token_secret"),
        ),
    )
    .expect("client")
}

#[test]
fn backfill_links_past_events_once() {
    let state = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(state.path());
    stack.ctl_ok(&["credentials", "put", "--from-stack"]);

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let on24 = demo_on24(&stack);
    let now = chrono::Utc::now();
    let events: Vec<u64> = runtime.block_on(async {
        let mut events = Vec::new();
        for days in 1..=3 {
            let start = (now - chrono::Duration::days(days)).fixed_offset();
            let created = on24
                .create_event(&NewEvent::new(format!("Past {days}"), start, 60))
                .await
                .expect("event at ON24");
            let event = created.event_id.expect("event id");
            let mut person = on24_client::RegistrantForm::new(format!("past{days}@example.com"));
            person.first_name = Some("Past".into());
            person.last_name = Some("Person".into());
            on24.create_registrant(event, &person)
                .await
                .expect("registered at ON24");
            events.push(event);
        }
        events
    });

    let since = (now - chrono::Duration::days(7)).to_rfc3339();
    let done = stack.ctl_ok(&["backfill", "--since", &since]);
    assert_eq!(done["linked_count"], 3, "{done}");
    assert_eq!(done["found_count"], 3, "{done}");
    let linked = done["webinars"].as_array().expect("webinars");
    let mut ids: Vec<u64> = linked
        .iter()
        .map(|w| w["on24_event_id"].as_u64().expect("event id"))
        .collect();
    ids.sort_unstable();
    let mut expected = events.clone();
    expected.sort_unstable();
    assert_eq!(ids, expected);

    for w in linked {
        let id = w["id"].as_str().expect("id");
        let registrations =
            testkit::eventually_sync("the ON24 registrant", Duration::from_secs(60), || {
                let list = stack.ctl_ok(&["registrations", "list", "--webinar", id]);
                let list = list.as_array().cloned().unwrap_or_default();
                (!list.is_empty()).then_some(list)
            });
        assert_eq!(registrations.len(), 1);
        assert_eq!(registrations[0]["origin"], "ON24", "{}", registrations[0]);
    }

    let again = stack.ctl_ok(&["backfill", "--since", &since]);
    assert_eq!(again["linked_count"], 0, "{again}");
    assert_eq!(again["already_linked_count"], 3, "{again}");
}
