//! Field fidelity: every registrant field the API accepts, and the webinar's description, reach
//! ON24. The registration is built from the proto descriptor (every field not marked "Output
//! only" gets a distinct value), goes through the real service into the simulator over HTTP,
//! and the simulator's journal must show each value under a field name that ON24's published
//! registrant form (`on24sim/contract/on24-openapi.json`, the repository's copy of ON24's
//! published contract) declares for the request, and under the ON24 name of that very field.
//! The list of fields is the proto's, cross-checked against the one registrant-fields type
//! (`RegistrantField::ALL`): a field added to either but not carried to ON24 fails this test
//! without anyone editing it.

use std::collections::BTreeMap;

use prost::Message;
use prost_types::{
    DescriptorProto, FileDescriptorSet,
    field_descriptor_proto::{Label, Type},
};
use proto::webinar::v1::{
    metrics_service_client::MetricsServiceClient,
    provider_config_service_client::ProviderConfigServiceClient,
    registration_service_client::RegistrationServiceClient,
    webinar_service_client::WebinarServiceClient, *,
};
use serde_json::Value;

use integrationservice::domain::RegistrantField;

use super::lifecycle::{FullStack, eventually};
use crate::api_both_backends;

/// ON24's OpenAPI document, as the simulator's contract fixture holds it.
fn contract() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../on24sim/contract/on24-openapi.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("contract")).expect("JSON")
}

/// The form field names ON24's contract documents for an operation: the properties of the
/// form schema its urlencoded request body refers to.
fn form_fields(contract: &Value, path: &str, method: &str) -> Vec<String> {
    let body = &contract["paths"][path][method]["requestBody"]["content"]["application/x-www-form-urlencoded"]
        ["schema"];
    let schema = match body["$ref"].as_str() {
        Some(r) => &contract["components"]["schemas"][r.rsplit('/').next().unwrap_or_default()],
        None => body,
    };
    schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} has a form in the contract"))
        .keys()
        .cloned()
        .collect()
}

/// The ON24 form name a proto field must travel under: the same words in camelCase, except
/// the CRM's contact id, which ON24 calls `extEventUserCd`.
fn on24_name(proto_field: &str) -> String {
    if proto_field == "crm_reference_id" {
        return "exteventusercd".into();
    }
    if let Some(key) = proto_field
        .strip_prefix("standard_fields[")
        .and_then(|k| k.strip_suffix(']'))
    {
        return key.to_owned();
    }
    proto_field.replace('_', "")
}

/// `webinar.v1.Registration` from the service's own descriptor set, and the leading comment
/// of each of its fields by field index.
fn registration_descriptor() -> (DescriptorProto, BTreeMap<usize, String>) {
    let set = FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("descriptor set");
    for file in &set.file {
        if file.package() != "webinar.v1" {
            continue;
        }
        let Some(index) = file
            .message_type
            .iter()
            .position(|m| m.name() == "Registration")
        else {
            continue;
        };
        // Source locations of the message's fields: [4 (message_type), index, 2 (field), i].
        let comments = file
            .source_code_info
            .iter()
            .flat_map(|info| &info.location)
            .filter_map(|l| match l.path.as_slice() {
                [4, m, 2, f] if *m as usize == index => {
                    Some((*f as usize, l.leading_comments().trim().to_owned()))
                }
                _ => None,
            })
            .collect();
        return (file.message_type[index].clone(), comments);
    }
    panic!("webinar.v1.Registration not in the descriptor set");
}

fn put_len(buf: &mut Vec<u8>, number: i32, bytes: &[u8]) {
    prost::encoding::encode_key(
        number as u32,
        prost::encoding::WireType::LengthDelimited,
        buf,
    );
    prost::encoding::encode_varint(bytes.len() as u64, buf);
    buf.extend_from_slice(bytes);
}

/// A registration with every input field set to a value of its own, and the values expected
/// at ON24 by proto field (`standard_fields[stdN]` for the map entries).
fn full_registration() -> (Registration, BTreeMap<String, String>) {
    let (message, comments) = registration_descriptor();
    assert!(
        comments.values().filter(|c| !c.is_empty()).count() >= message.field.len(),
        "the descriptor set carries field comments (needed to tell input from output fields)"
    );
    let mut wire = Vec::new();
    let mut expected = BTreeMap::new();
    for (i, field) in message.field.iter().enumerate() {
        let comment = comments.get(&i).map(String::as_str).unwrap_or_default();
        if comment.starts_with("Output only") {
            continue;
        }
        let name = field.name().to_owned();
        match (field.r#type(), field.label()) {
            (Type::String, Label::Optional) => {
                let value = match name.as_str() {
                    "email" => "fidelity.person@example.com".to_owned(),
                    _ => format!("v-{name}"),
                };
                put_len(&mut wire, field.number(), value.as_bytes());
                expected.insert(name, value);
            }
            (Type::Message, Label::Repeated) if name == "standard_fields" => {
                for n in 1..=10 {
                    let (key, value) = (format!("std{n}"), format!("v-std{n}"));
                    let mut entry = Vec::new();
                    put_len(&mut entry, 1, key.as_bytes());
                    put_len(&mut entry, 2, value.as_bytes());
                    put_len(&mut wire, field.number(), &entry);
                    expected.insert(format!("standard_fields[{key}]"), value);
                }
            }
            // Answers to custom questions travel in ON24's custom fields, which
            // `standard_fields` fills here (std1 to std10, all of them): the answers are
            // checked to reach ON24 under their question's id in `registration_questions`,
            // the options ticked in `question_choices` comma-joined in `question_kinds`.
            (Type::Message, Label::Repeated)
                if name == "question_answers" || name == "question_choices" => {}
            other => panic!(
                "Registration.{name} ({other:?}) is an input this test cannot fill yet: teach it \
                 the field so its delivery to ON24 is checked"
            ),
        }
    }
    let registration = Registration::decode(wire.as_slice()).expect("registration");
    (registration, expected)
}

async fn every_field_reaches_on24(database_url: String) {
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
    let description = "What the launch is about, for ON24's eventAbstract.";
    let mut webinars = WebinarServiceClient::new(channel.clone());
    let webinar = webinars
        .create_webinar(CreateWebinarRequest {
            parent: "tenants/tenant-a".into(),
            webinar: Some(Webinar {
                crm_reference_id: "event-fidelity".into(),
                title: "Fidelity".into(),
                description: description.into(),
                start_time: Some(prost_types::Timestamp {
                    seconds: chrono::Utc::now().timestamp() + 86_400,
                    nanos: 0,
                }),
                duration_minutes: 60,
                time_zone: "Europe/Paris".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("webinar")
        .into_inner()
        .webinar
        .expect("webinar");
    let (registration, expected) = full_registration();
    let created = RegistrationServiceClient::new(channel.clone())
        .create_registration(CreateRegistrationRequest {
            parent: webinar.name.clone(),
            registration: Some(registration),
            request_id: String::new(),
        })
        .await
        .expect("every accepted field is valid")
        .into_inner()
        .registration
        .expect("registration");
    let regs = RegistrationServiceClient::new(channel.clone());
    eventually("registration DELIVERED", || {
        let (mut regs, name) = (regs.clone(), created.name.clone());
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

    // Through the API: a CRM-created registration says so, and before the webinar has taken
    // place its outcome is not known (counted as such in the webinar's metrics).
    let delivered = RegistrationServiceClient::new(channel.clone())
        .get_registration(GetRegistrationRequest {
            name: created.name.clone(),
        })
        .await
        .expect("registration")
        .into_inner()
        .registration
        .expect("registration");
    assert_eq!(delivered.origin, RegistrationOrigin::Crm as i32);
    assert_eq!(delivered.attendance, Attendance::Unspecified as i32);
    let counts = MetricsServiceClient::new(channel.clone())
        .get_webinar_metrics(GetWebinarMetricsRequest {
            name: format!("{}/metrics", webinar.name),
        })
        .await
        .expect("metrics")
        .into_inner()
        .webinar_metrics
        .expect("metrics");
    assert_eq!(
        (
            counts.attendance_unknown_count,
            counts.attended_live_count,
            counts.no_show_count
        ),
        (1, 0, 0)
    );

    let journal = stack.sim.control().journal().await.expect("journal");
    let contract = contract();

    // The event: the description as `eventAbstract`, every name one of ON24's event form.
    let event_form = &journal
        .iter()
        .find(|e| e.method == "POST" && e.path.ends_with("/event"))
        .expect("the event was created at ON24")
        .form;
    let event_names = form_fields(&contract, "/client/{clientId}/event", "post");
    for (name, _) in event_form {
        assert!(
            event_names.contains(name),
            "{name} is not in ON24's AddEventForm"
        );
    }
    assert!(
        event_form
            .iter()
            .any(|(k, v)| k == "eventAbstract" && v == description),
        "the description reaches ON24 as eventAbstract: {event_form:?}"
    );

    // The registrant: every accepted value, each under a name of ON24's registrant form.
    let registrant_form = &journal
        .iter()
        .find(|e| e.method == "POST" && e.path.ends_with("/registrant"))
        .expect("the registrant was sent to ON24")
        .form;
    let registrant_names = form_fields(
        &contract,
        "/client/{clientId}/event/{eventId}/registrant",
        "post",
    );
    for (name, _) in registrant_form {
        assert!(
            registrant_names.contains(name),
            "{name} is not in ON24's AddRegistrantForm"
        );
    }
    // The one registrant-fields type and the proto name the same fields: each stored field
    // is accepted by the API, so each is checked below.
    for field in RegistrantField::ALL {
        let key = if field.is_standard() {
            format!("standard_fields[{}]", field.name())
        } else {
            field.name().to_owned()
        };
        assert!(
            expected.contains_key(&key),
            "RegistrantField {} is not an input of webinar.v1.Registration",
            field.name()
        );
    }
    let missing: Vec<&String> = expected
        .iter()
        .filter(|(field, value)| {
            !registrant_form
                .iter()
                .any(|(name, sent)| sent == *value && name.eq_ignore_ascii_case(&on24_name(field)))
        })
        .map(|(field, _)| field)
        .collect();
    assert!(
        missing.is_empty(),
        "accepted but never sent to ON24 under its ON24 name: {missing:?} in {registrant_form:?}"
    );
    assert!(
        registrant_form
            .iter()
            .any(|(k, v)| k == "extEventUserCd" && Some(v) == expected.get("crm_reference_id")),
        "the CRM's contact id travels as extEventUserCd: {registrant_form:?}"
    );
    stack.stop().await;
}

api_both_backends!(
    every_accepted_field_and_the_description_reach_on24,
    every_field_reaches_on24
);
