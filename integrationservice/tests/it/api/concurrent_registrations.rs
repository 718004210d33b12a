//! Single registrations sent at the same moment (the service writes those for one webinar
//! together) through the public API with everything real: each call gets the answer it would
//! get alone. New people are created once each; the same person sent twice at once is created
//! once and the other call gets the same registration back; a request id reused for another
//! person is refused for that call only; a suppressed person is refused among others who are
//! not; a call to another webinar is unaffected. Every person reaches ON24 exactly once.

use std::collections::{HashMap, HashSet};

use proto::webinar::v1::*;
use tonic::Code;
use tonic_types::StatusExt;

use super::erasure::Clients;
use crate::api::lifecycle::{FullStack, eventually};
use crate::api_both_backends;

const PEOPLE: usize = 40;
const SUPPRESSED: &str = "gone.person@example.com";

fn request(webinar: &str, email: &str, request_id: &str) -> CreateRegistrationRequest {
    CreateRegistrationRequest {
        parent: webinar.into(),
        registration: Some(Registration {
            email: email.into(),
            first_name: "Casey".into(),
            last_name: "Concurrent".into(),
            company: "Acme".into(),
            ..Default::default()
        }),
        request_id: request_id.into(),
    }
}

fn person(i: usize) -> String {
    format!("person{i}@example.com")
}

async fn concurrent_registrations(database_url: String) {
    let stack = FullStack::start(database_url, |_| {}).await;
    let mut c = Clients::new(&stack).await;
    c.put_credentials(&stack).await;
    let a = c.active_webinar("concurrent-a", 120).await;
    let b = c.active_webinar("concurrent-b", 120).await;
    // A person forgotten before: refused from now on.
    c.forget(SUPPRESSED, false).await;
    // Person 10 registered before, with a request id another person's call reuses below.
    let reused_id = uuid::Uuid::new_v4().to_string();
    c.regs
        .create_registration(request(&a.name, &person(10), &reused_id))
        .await
        .expect("person 10");

    // What each call sends, and what it must get: every person once (person 10 again); people
    // 0..10 a second time at once (5 of them with the same request id, which is an idempotent
    // retry); person 10's request id reused by another person; the suppressed person; and two
    // people to the other webinar.
    let same_ids: Vec<String> = (0..5).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let mut calls: Vec<(String, CreateRegistrationRequest)> = Vec::new();
    for i in 0..PEOPLE {
        let id = same_ids.get(i).cloned().unwrap_or_default();
        calls.push((format!("first {i}"), request(&a.name, &person(i), &id)));
    }
    for (i, id) in same_ids.iter().enumerate() {
        calls.push((format!("retry {i}"), request(&a.name, &person(i), id)));
    }
    for i in 5..10 {
        calls.push((format!("again {i}"), request(&a.name, &person(i), "")));
    }
    calls.push((
        "reused id".into(),
        request(&a.name, "someone.else@example.com", &reused_id),
    ));
    calls.push(("suppressed".into(), request(&a.name, SUPPRESSED, "")));
    for i in 0..2 {
        calls.push((
            format!("other webinar {i}"),
            request(&b.name, &person(i), ""),
        ));
    }

    let answers = futures::future::join_all(calls.into_iter().map(|(label, call)| {
        let mut regs = c.regs.clone();
        async move { (label, regs.create_registration(call).await) }
    }))
    .await;
    let answers: HashMap<String, _> = answers.into_iter().collect();

    // Each person of webinar A is created by exactly one call (person 10 by none: registered
    // before), and every call for them names the same registration.
    let mut names: HashMap<String, String> = HashMap::new();
    let mut created: HashMap<String, usize> = HashMap::new();
    for (label, answer) in &answers {
        if label == "suppressed" || label == "reused id" || label.starts_with("other") {
            continue;
        }
        let r = answer
            .as_ref()
            .unwrap_or_else(|e| panic!("{label}: {e:?}"))
            .get_ref();
        let reg = r.registration.as_ref().expect("registration");
        assert_eq!(reg.company, "Acme", "{label}");
        if r.created {
            *created.entry(reg.email.clone()).or_default() += 1;
        }
        let previous = names.insert(reg.email.clone(), reg.name.clone());
        if let Some(previous) = previous {
            assert_eq!(previous, reg.name, "{label}: another registration");
        }
    }
    assert_eq!(names.len(), PEOPLE, "{names:?}");
    for email in names.keys() {
        let expected = if *email == person(10) { None } else { Some(&1) };
        assert_eq!(created.get(email), expected, "{email} created {created:?}");
    }

    // Person 10's request id, reused by another person, is refused for that call only.
    match &answers["reused id"] {
        Err(status) => assert_eq!(status.code(), Code::AlreadyExists, "{status:?}"),
        Ok(r) => panic!("a request id of another person was accepted: {r:?}"),
    }

    let refused = answers["suppressed"].as_ref().expect_err("suppressed");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    let details = refused.get_error_details();
    let violations = &details.bad_request().expect("BadRequest").field_violations;
    assert_eq!(violations[0].reason, "PERSON_SUPPRESSED");

    for i in 0..2 {
        let r = answers[&format!("other webinar {i}")]
            .as_ref()
            .expect("other webinar")
            .get_ref();
        assert!(r.created);
        let reg = r.registration.as_ref().expect("registration");
        assert!(reg.name.starts_with(&format!("{}/", b.name)), "{reg:?}");
    }

    // Webinar A lists each person once; all 42 people reach ON24 exactly once.
    let listed = c
        .regs
        .list_registrations(ListRegistrationsRequest {
            parent: a.name.clone(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .registrations;
    let listed: HashSet<String> = listed.into_iter().map(|r| r.email).collect();
    assert_eq!(listed.len(), PEOPLE);
    assert!(!listed.contains(SUPPRESSED));
    assert!(!listed.contains("someone.else@example.com"));
    let posts = eventually("every person delivered", || async {
        let journal = stack.sim.control().journal().await.ok()?;
        let posts: Vec<_> = journal
            .into_iter()
            .filter(|e| e.method == "POST" && e.path.ends_with("/registrant") && e.status == 200)
            .collect();
        (posts.len() >= PEOPLE + 2).then_some(posts)
    })
    .await;
    let mut per_event_and_email: HashMap<(String, String), usize> = HashMap::new();
    for post in &posts {
        let email = post
            .form
            .iter()
            .find(|(k, _)| k == "email")
            .map(|(_, v)| v.clone())
            .expect("email sent");
        *per_event_and_email
            .entry((post.path.clone(), email))
            .or_default() += 1;
    }
    assert_eq!(
        per_event_and_email.len(),
        PEOPLE + 2,
        "{per_event_and_email:?}"
    );
    assert!(per_event_and_email.values().all(|n| *n == 1));
    stack.stop().await;
}

api_both_backends!(same_moment, concurrent_registrations);

const BATCH_CALLERS: usize = 6;
const PER_BATCH: usize = 25;

/// More batches at once than the service works on at a time (one per core): the others wait
/// their turn, none is refused or lost, and each person is registered once.
async fn concurrent_batches(database_url: String) {
    let stack = FullStack::start(database_url, |_| {}).await;
    let mut c = Clients::new(&stack).await;
    c.put_credentials(&stack).await;
    let w = c.active_webinar("concurrent-batches", 120).await;
    let calls = (0..BATCH_CALLERS).map(|b| {
        let requests = (0..PER_BATCH)
            .map(|i| request("", &person(b * PER_BATCH + i), ""))
            .collect();
        let (mut regs, parent) = (c.regs.clone(), w.name.clone());
        async move {
            regs.batch_create_registrations(BatchCreateRegistrationsRequest { parent, requests })
                .await
        }
    });
    for (b, answer) in futures::future::join_all(calls)
        .await
        .into_iter()
        .enumerate()
    {
        let results = answer
            .unwrap_or_else(|e| panic!("batch {b}: {e:?}"))
            .into_inner()
            .results;
        assert_eq!(results.len(), PER_BATCH, "batch {b}");
        assert!(results.iter().all(|r| r.created), "batch {b}: {results:?}");
    }
    let listed = c
        .regs
        .list_registrations(ListRegistrationsRequest {
            parent: w.name.clone(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .registrations;
    let listed: HashSet<String> = listed.into_iter().map(|r| r.email).collect();
    let expected: HashSet<String> = (0..BATCH_CALLERS * PER_BATCH).map(person).collect();
    assert_eq!(listed, expected);
    stack.stop().await;
}

api_both_backends!(batches_wait_their_turn, concurrent_batches);
