//! Registration questions beyond free text and single choices, and a linked webinar, through
//! the public API on both backends against the simulator over HTTP. A webinar linked to an
//! event made at ON24 copies the event's title, time zone and URLs. ON24's validation type
//! of a question (email, numeric, one this service does not know) is shown and checked
//! (INVALID_ARGUMENT naming the answer, never echoing it; an unknown type is left to ON24).
//! A checkbox question takes several options (`question_choices`, or ON24's comma-joined
//! form in `question_answers`): they reach ON24 comma-joined and come back as a list. A
//! person who registered at ON24 shows the answers to the webinar's questions under
//! `question_answers` and `question_choices`, not `standard_fields`. Forgetting a person
//! erases the options ticked.

use std::collections::HashMap;

use on24sim::RegField;
use proto::webinar::v1::{
    metrics_service_client::MetricsServiceClient,
    provider_config_service_client::ProviderConfigServiceClient,
    registration_service_client::RegistrationServiceClient,
    webinar_service_client::WebinarServiceClient, *,
};

use super::harness::assert_bad_field;
use super::lifecycle::{FullStack, eventually, person};
use super::questions::{answers, update_answers};
use crate::api_both_backends;

fn choices(pairs: &[(&str, &[&str])]) -> HashMap<String, QuestionChoices> {
    pairs
        .iter()
        .map(|(k, v)| {
            let values = v.iter().map(|s| (*s).to_owned()).collect();
            ((*k).to_owned(), QuestionChoices { values })
        })
        .collect()
}

/// The event's questions at ON24: the radio (required) and free text of the other tests,
/// a checkbox whose options include a comma, and three validated free answers.
fn questions_at_on24() -> Vec<RegField> {
    let mut fields = crate::engine::linked_webinars::custom_fields();
    let field = |id: &str, kind: &str, validation: &str, options: &[&str]| RegField {
        field_id: id.into(),
        caption: format!("Question {id}"),
        field_type: kind.into(),
        validation_type: validation.into(),
        required: false,
        options: options.iter().map(|o| (*o).to_owned()).collect(),
    };
    fields.push(field(
        "std3",
        "checkbox",
        "none",
        &["Cloud", "Edge, IoT", "On-prem"],
    ));
    fields.push(field("std4", "textbox", "email", &[]));
    fields.push(field("std5", "textbox", "numeric", &[]));
    fields.push(field("std6", "textbox", "postcode", &[]));
    fields
}

fn create(webinar: &str, registration: Registration) -> CreateRegistrationRequest {
    CreateRegistrationRequest {
        parent: webinar.to_owned(),
        registration: Some(registration),
        request_id: String::new(),
    }
}

async fn delivered(regs: &RegistrationServiceClient<tonic::transport::Channel>, name: &str) {
    eventually("registration DELIVERED", || {
        let (mut regs, name) = (regs.clone(), name.to_owned());
        async move {
            let r = regs
                .get_registration(GetRegistrationRequest { name })
                .await
                .ok()?
                .into_inner()
                .registration?;
            (r.status == RegistrationStatus::Delivered as i32).then_some(())
        }
    })
    .await;
}

async fn validated_and_multiple_answers(database_url: String) {
    let stack = FullStack::start(database_url, |_| {}).await;
    let channel = stack.h.tenant_a().await;
    ProviderConfigServiceClient::new(channel.clone())
        .put_on24_credentials(PutOn24CredentialsRequest {
            on24_credentials: Some(stack.credentials()),
            live_check: false,
            validate_only: false,
        })
        .await
        .expect("credentials");
    let on24 = on24_client::On24Client::new(
        on24_client::On24ClientConfig::with_base_url(
            on24_client::BaseUrl::parse(&stack.sim.base_url).expect("url"),
        ),
        on24_client::On24Credentials::new(
            stack.credentials().client_id.parse().expect("client id"),
            stack.credentials().access_token_key,
            stack.credentials().access_token_secret,
        ),
    )
    .expect("ON24 client");

    // An event the organiser made at ON24, with its questions, linked by the CRM.
    let start = chrono::Utc::now().fixed_offset() + chrono::Duration::days(1);
    let mut event = on24_client::NewEvent::new("Quarterly launch", start, 60);
    event.time_zone = "Europe/Paris".into();
    let made = on24.create_event(&event).await.expect("event at ON24");
    let event_id = i64::try_from(made.event_id.expect("event id")).expect("event id");
    stack
        .sim
        .control()
        .set_registration_fields(event_id, &questions_at_on24())
        .await
        .expect("questions at ON24");
    let mut webinars = WebinarServiceClient::new(channel.clone());
    let linked = webinars
        .link_webinar(LinkWebinarRequest {
            parent: "tenants/tenant-a".into(),
            on24_event_id: event_id,
            crm_reference_id: "event-linked".into(),
            request_id: String::new(),
        })
        .await
        .expect("link")
        .into_inner()
        .webinar
        .expect("webinar");
    let webinar = eventually("the event's title and questions read", || {
        let (mut webinars, name) = (webinars.clone(), linked.name.clone());
        async move {
            let w = webinars
                .get_webinar(GetWebinarRequest { name })
                .await
                .ok()?
                .into_inner()
                .webinar?;
            (!w.title.is_empty() && w.registration_questions_read_time.is_some()).then_some(w)
        }
    })
    .await;
    assert_eq!(webinar.title, "Quarterly launch");
    assert_eq!(webinar.time_zone, "Europe/Paris");
    assert_eq!(webinar.origin, WebinarOrigin::Linked as i32);
    for url in [
        &webinar.audience_url,
        &webinar.report_url,
        &webinar.preview_url,
    ] {
        assert!(url.starts_with("http"), "{url:?}");
    }
    let shown: HashMap<&str, &RegistrationQuestion> = webinar
        .registration_questions
        .iter()
        .map(|q| (q.id.as_str(), q))
        .collect();
    let validation = |id: &str| shown[id].validation;
    assert_eq!(validation("std1"), AnswerValidation::None as i32);
    assert_eq!(validation("std4"), AnswerValidation::Email as i32);
    assert_eq!(validation("std5"), AnswerValidation::Numeric as i32);
    assert_eq!(validation("std6"), AnswerValidation::Other as i32);
    assert_eq!(shown["std3"].field_type, "checkbox");

    // Refused answers, each named; the answer never appears in the error.
    let mut regs = RegistrationServiceClient::new(channel.clone());
    let secret = "Secret-77";
    let bad = [
        (
            answers(&[("std1", "Web"), ("std4", secret)]),
            choices(&[]),
            r#"registration.question_answers["std4"]"#,
        ),
        (
            answers(&[("std1", "Web"), ("std5", secret)]),
            choices(&[]),
            r#"registration.question_answers["std5"]"#,
        ),
        (
            answers(&[("std1", "Web")]),
            choices(&[("std3", &["Cloud", secret])]),
            r#"registration.question_choices["std3"]"#,
        ),
        (
            answers(&[("std1", "Web"), ("std3", &format!("Cloud,{secret}"))]),
            choices(&[]),
            r#"registration.question_answers["std3"]"#,
        ),
        (
            answers(&[("std1", "Web")]),
            choices(&[("std2", &[secret])]),
            r#"registration.question_choices["std2"]"#,
        ),
    ];
    for (i, (given, ticked, field)) in bad.into_iter().enumerate() {
        let status = regs
            .create_registration(create(
                &webinar.name,
                Registration {
                    question_answers: given,
                    question_choices: ticked,
                    ..person(200 + i)
                },
            ))
            .await
            .expect_err("refused");
        assert_bad_field(&status, field);
        assert!(!format!("{status:?}").contains(secret), "{status:?}");
    }

    // A good one: several options ticked, validated answers, an unknown validation left
    // to ON24. Sent comma-joined, read back as a list (and joined in question_answers).
    let good = regs
        .create_registration(create(
            &webinar.name,
            Registration {
                question_answers: answers(&[
                    ("std1", "Web"),
                    ("std4", "colleague@example.org"),
                    ("std5", "-12.5"),
                    ("std6", "SW1A 1AA"),
                ]),
                question_choices: choices(&[("std3", &["Cloud", "Edge, IoT"])]),
                ..person(1)
            },
        ))
        .await
        .expect("valid answers")
        .into_inner()
        .registration
        .expect("registration");
    assert_eq!(
        good.question_choices,
        choices(&[("std3", &["Cloud", "Edge, IoT"])])
    );
    assert_eq!(good.question_answers["std3"], "Cloud,Edge, IoT");
    assert!(good.standard_fields.is_empty());
    delivered(&regs, &good.name).await;
    let event = u64::try_from(event_id).expect("event");
    let at_on24 = on24
        .get_registrant(&good.email, Some(event))
        .await
        .expect("the simulator holds the registrant");
    assert_eq!(at_on24.std3.as_deref(), Some("Cloud,Edge, IoT"));
    assert_eq!(at_on24.std4.as_deref(), Some("colleague@example.org"));
    assert_eq!(at_on24.std5.as_deref(), Some("-12.5"));
    assert_eq!(at_on24.std6.as_deref(), Some("SW1A 1AA"));

    // An update in ON24's joined form in question_answers replaces the options ticked.
    let updated = update_answers(&mut regs, &good.name, &[("std3", "Edge, IoT,On-prem")])
        .await
        .expect("update");
    assert_eq!(
        updated.question_choices,
        choices(&[("std3", &["Edge, IoT", "On-prem"])])
    );
    delivered(&regs, &good.name).await;
    eventually("the new options reach ON24", || {
        let (on24, email) = (&on24, good.email.clone());
        async move {
            let r = on24.get_registrant(&email, Some(event)).await.ok()?;
            (r.std3.as_deref() == Some("Edge, IoT,On-prem")).then_some(())
        }
    })
    .await;

    // Someone registers on ON24's own page; a sync brings them in with their answers filed
    // under the questions, and the custom field no question uses left in standard_fields.
    stack
        .sim
        .control()
        .register_at_on24(
            event_id,
            &[
                ("email", "onsite@example.com"),
                ("firstName", "On"),
                ("lastName", "Site"),
                ("std1", "Partner"),
                ("std3", "On-prem,Cloud"),
                ("std5", "7"),
                ("std9", "kept as is"),
            ],
        )
        .await
        .expect("registered at ON24");
    MetricsServiceClient::new(channel.clone())
        .sync_webinar_metrics(SyncWebinarMetricsRequest {
            name: webinar.name.clone(),
        })
        .await
        .expect("sync");
    let found = regs
        .list_registrations(ListRegistrationsRequest {
            parent: webinar.name.clone(),
            filter: "email = \"onsite@example.com\"".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .registrations;
    assert_eq!(found.len(), 1, "{found:?}");
    let onsite = &found[0];
    assert_eq!(onsite.origin, RegistrationOrigin::On24 as i32);
    assert_eq!(
        onsite.question_answers,
        answers(&[
            ("std1", "Partner"),
            ("std3", "On-prem,Cloud"),
            ("std5", "7")
        ])
    );
    assert_eq!(
        onsite.question_choices,
        choices(&[("std3", &["On-prem", "Cloud"])])
    );
    assert_eq!(onsite.standard_fields, answers(&[("std9", "kept as is")]));

    // Forgetting a person erases the options ticked with the other answers.
    regs.forget_person(ForgetPersonRequest {
        parent: "tenants/tenant-a".into(),
        email: good.email.clone(),
        ..Default::default()
    })
    .await
    .expect("forget");
    let forgotten = regs
        .get_registration(GetRegistrationRequest {
            name: good.name.clone(),
        })
        .await
        .expect("registration")
        .into_inner()
        .registration
        .expect("registration");
    assert!(forgotten.question_choices.is_empty() && forgotten.question_answers.is_empty());
    stack.stop().await;
}

api_both_backends!(
    registration_questions_validated_multiple_and_from_on24,
    validated_and_multiple_answers
);
