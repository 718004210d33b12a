//! Custom registration questions through the public API on both backends, against the
//! simulator over HTTP: the event's questions (one required choice, one free text) show on
//! the webinar once read; answers are checked against them (an unknown question, an answer
//! that is not an option, a missing required answer: INVALID_ARGUMENT naming the answer,
//! never echoing it); a valid registration is delivered with the answers under their ON24
//! field ids, returned on read, updated (a cleared answer is cleared at ON24 too), exported,
//! and erased by ForgetPerson.

use proto::webinar::v1::{
    metrics_service_client::MetricsServiceClient,
    person_data_service_client::PersonDataServiceClient,
    provider_config_service_client::ProviderConfigServiceClient,
    registration_service_client::RegistrationServiceClient,
    webinar_service_client::WebinarServiceClient, *,
};

use super::harness::assert_bad_field;
use super::lifecycle::{FullStack, eventually, person};
use crate::api_both_backends;

/// The answers of a registration, as the proto map.
pub(super) fn answers(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Replaces the given answers of a registration (update mask `question_answers`).
pub(super) async fn update_answers(
    regs: &mut RegistrationServiceClient<tonic::transport::Channel>,
    name: &str,
    pairs: &[(&str, &str)],
) -> Result<Registration, tonic::Status> {
    let updated = regs
        .update_registration(UpdateRegistrationRequest {
            registration: Some(Registration {
                name: name.to_owned(),
                question_answers: answers(pairs),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["question_answers".into()],
            }),
        })
        .await?;
    Ok(updated.into_inner().registration.unwrap_or_default())
}

fn create(webinar: &str, registration: Registration) -> CreateRegistrationRequest {
    CreateRegistrationRequest {
        parent: webinar.to_owned(),
        registration: Some(registration),
        request_id: String::new(),
    }
}

async fn questions_are_shown_checked_delivered_and_forgotten(database_url: String) {
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
    let mut webinars = WebinarServiceClient::new(channel.clone());
    let mut regs = RegistrationServiceClient::new(channel.clone());
    let created = webinars
        .create_webinar(CreateWebinarRequest {
            parent: "tenants/tenant-a".into(),
            webinar: Some(Webinar {
                crm_reference_id: "event-questions".into(),
                title: "Questions".into(),
                start_time: Some(prost_types::Timestamp {
                    seconds: chrono::Utc::now().timestamp() + 86_400,
                    nanos: 0,
                }),
                duration_minutes: 60,
                time_zone: "UTC".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("webinar")
        .into_inner()
        .webinar
        .expect("webinar");
    // Created at ON24 with ON24's standard fields only: read, and no custom question.
    let active = eventually("webinar created at ON24 and its questions read", || {
        let (mut webinars, name) = (webinars.clone(), created.name.clone());
        async move {
            let w = webinars
                .get_webinar(GetWebinarRequest { name })
                .await
                .ok()?
                .into_inner()
                .webinar?;
            w.registration_questions_read_time.is_some().then_some(w)
        }
    })
    .await;
    assert!(active.registration_questions.is_empty());

    // The organiser adds two questions at ON24; a sync the CRM asks for reads them.
    stack
        .sim
        .control()
        .set_registration_fields(
            active.on24_event_id,
            &crate::engine::linked_webinars::custom_fields(),
        )
        .await
        .expect("questions at ON24");
    MetricsServiceClient::new(channel.clone())
        .sync_webinar_metrics(SyncWebinarMetricsRequest {
            name: active.name.clone(),
        })
        .await
        .expect("sync");
    let shown = webinars
        .get_webinar(GetWebinarRequest {
            name: active.name.clone(),
        })
        .await
        .expect("webinar")
        .into_inner()
        .webinar
        .expect("webinar")
        .registration_questions;
    assert_eq!(
        shown,
        vec![
            RegistrationQuestion {
                id: "std1".into(),
                caption: "How did you hear of us?".into(),
                field_type: "radio".into(),
                required: true,
                options: vec!["Email".into(), "Partner".into(), "Web".into()],
                validation: AnswerValidation::None as i32,
            },
            RegistrationQuestion {
                id: "std2".into(),
                caption: "What would you like to ask?".into(),
                field_type: "textarea".into(),
                required: false,
                options: Vec::new(),
                validation: AnswerValidation::None as i32,
            },
        ]
    );

    // Bad answers, each named; the answer itself never appears in the error.
    let secret = "Carrier pigeon 7Q";
    let bad = [
        (
            answers(&[("std1", "Web"), ("std7", "x")]),
            r#"registration.question_answers["std7"]"#,
        ),
        (
            answers(&[("std1", secret)]),
            r#"registration.question_answers["std1"]"#,
        ),
        (
            answers(&[("std2", "Only the free text")]),
            r#"registration.question_answers["std1"]"#,
        ),
    ];
    for (i, (given, field)) in bad.into_iter().enumerate() {
        let status = regs
            .create_registration(create(
                &active.name,
                Registration {
                    question_answers: given,
                    ..person(100 + i)
                },
            ))
            .await
            .expect_err("refused");
        assert_bad_field(&status, field);
        assert!(!format!("{status:?}").contains(secret), "{status:?}");
    }
    // A batch item is checked the same way, on its own.
    let batch = regs
        .batch_create_registrations(BatchCreateRegistrationsRequest {
            parent: active.name.clone(),
            requests: vec![create(
                "",
                Registration {
                    question_answers: answers(&[("std1", "Fax")]),
                    ..person(110)
                },
            )],
        })
        .await
        .expect("batch")
        .into_inner();
    match &batch.results[0].result {
        Some(batch_create_registration_result::Result::Error(e)) => {
            assert_eq!(e.code, tonic::Code::InvalidArgument as i32);
            assert_eq!(
                e.field_violations[0].field,
                r#"registration.question_answers["std1"]"#
            );
        }
        other => panic!("the batch item is refused: {other:?}"),
    }

    // A good one is delivered with the answers under the questions' field ids.
    let free_text = "Will the recording stay online?";
    let good = regs
        .create_registration(create(
            &active.name,
            Registration {
                question_answers: answers(&[("std1", "Partner"), ("std2", free_text)]),
                ..person(1)
            },
        ))
        .await
        .expect("valid answers")
        .into_inner()
        .registration
        .expect("registration");
    assert_eq!(
        good.question_answers,
        answers(&[("std1", "Partner"), ("std2", free_text)])
    );
    eventually("registration DELIVERED", || {
        let (mut regs, name) = (regs.clone(), good.name.clone());
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
    let at_on24 = on24
        .get_registrant(
            &good.email,
            Some(u64::try_from(active.on24_event_id).expect("event")),
        )
        .await
        .expect("the simulator holds the registrant");
    assert_eq!(at_on24.std1.as_deref(), Some("Partner"));
    assert_eq!(at_on24.std2.as_deref(), Some(free_text));

    // An update changes one answer (checked too); the export carries the answers.
    let status = update_answers(&mut regs, &good.name, &[("std1", "")])
        .await
        .expect_err("a required answer cannot be cleared");
    assert_bad_field(&status, r#"registration.question_answers["std1"]"#);
    let updated = update_answers(&mut regs, &good.name, &[("std1", "Email")])
        .await
        .expect("update");
    assert_eq!(
        updated.question_answers,
        answers(&[("std1", "Email"), ("std2", free_text)])
    );
    // The next change waits for this one to reach ON24: a change made while this one's
    // delivery runs queues no job of its own (the pending one sends the latest row), and a
    // delivery already running has read the row before it, so it would not be sent.
    eventually("the update DELIVERED", || {
        let (mut regs, name) = (regs.clone(), good.name.clone());
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
    let exported = PersonDataServiceClient::new(channel.clone())
        .export_person_data(ExportPersonDataRequest {
            parent: "tenants/tenant-a".into(),
            email: good.email.clone(),
        })
        .await
        .expect("export")
        .into_inner();
    assert_eq!(
        exported.registrations[0].question_answers,
        answers(&[("std1", "Email"), ("std2", free_text)])
    );

    // Clearing the optional answer clears it at ON24 too.
    let cleared = update_answers(&mut regs, &good.name, &[("std2", "")])
        .await
        .expect("clear");
    assert_eq!(cleared.question_answers, answers(&[("std1", "Email")]));
    eventually("the cleared answer reaches ON24", || {
        let (on24, email) = (&on24, good.email.clone());
        let event = u64::try_from(active.on24_event_id).expect("event");
        async move {
            let r = on24.get_registrant(&email, Some(event)).await.ok()?;
            (r.std1.as_deref() == Some("Email") && r.std2.as_deref().unwrap_or("").is_empty())
                .then_some(())
        }
    })
    .await;

    // Forgetting the person erases the answers with every other personal field.
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
    assert_eq!(forgotten.status, RegistrationStatus::Forgotten as i32);
    assert!(forgotten.question_answers.is_empty());
    stack.stop().await;
}

api_both_backends!(
    registration_questions_are_shown_checked_delivered_and_forgotten,
    questions_are_shown_checked_delivered_and_forgotten
);
