//! Contract tests: every request the ON24 client can build is checked against ON24's own
//! OpenAPI document (the fixture copied into `on24sim/contract/`), and every example
//! answer the contract gives for those operations decodes into the client's types.
//! Nothing is sent: requests come from `On24Client::build_request`.

use std::collections::BTreeSet;

use chrono::DateTime;
use on24_client::*;
use serde_json::Value;

const CLIENT_ID: u64 = 22921;
const KEY: &str = "contract-key-7f3a";
const SECRET: &str = "contract-secret-9b1c";

fn contract() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../on24sim/contract/on24-openapi.json"
    );
    let text = std::fs::read_to_string(path).expect("contract fixture readable");
    serde_json::from_str(&text).expect("contract is JSON")
}

fn client() -> On24Client {
    On24Client::new(
        On24ClientConfig::for_region(Region::NorthAmerica),
        On24Credentials::new(CLIENT_ID, KEY, SECRET),
    )
    .expect("client builds")
}

fn full_registrant(email: &str) -> RegistrantForm {
    let mut r = RegistrantForm::new(email);
    r.first_name = Some("Jane".into());
    r.last_name = Some("Doe".into());
    r.company = Some("Acme".into());
    r.job_title = Some("CTO".into());
    r.job_function = Some("IT".into());
    r.company_industry = Some("Software".into());
    r.company_size = Some("51-200".into());
    r.address_street1 = Some("1 rue de Rivoli".into());
    r.address_street2 = Some("Bâtiment B".into());
    r.notes = Some("Asked for the recording".into());
    r.country = Some("France".into());
    r.state = Some("IDF".into());
    r.city = Some("Paris".into());
    r.zip = Some("75001".into());
    r.work_phone = Some("+33 1".into());
    r.partner_ref = Some("crm".into());
    r.ext_event_user_cd = Some("crm-42".into());
    r.marketing_email = Some(false);
    r.event_email = Some(true);
    r.std = std::array::from_fn(|i| Some(format!("custom{i}")));
    r
}

/// One sample of every operation, with every optional field set so every field name
/// the client can send is checked.
fn samples() -> Vec<Operation> {
    let start = DateTime::parse_from_rfc3339("2026-12-01T17:00:00+01:00").expect("date");
    let mut new_event = NewEvent::new("Launch webinar", start, 60);
    new_event.event_type = Some("webcast".into());
    new_event.event_abstract = Some("abstract".into());
    new_event.promotional_summary = Some("summary".into());
    new_event.campaign_code = Some("CMP-1".into());
    new_event.archive_available = Some(true);
    new_event.test_event = Some(true);
    new_event.tag_campaign = vec!["t1".into(), "t2".into()];
    let update = EventUpdate {
        title: Some("New title".into()),
        live_start: Some(start),
        live_duration_minutes: Some(90),
        time_zone: Some("Europe/Paris".into()),
        language_cd: Some("de".into()),
        promotional_summary: Some("s".into()),
        campaign_code: Some("c".into()),
        archive_available: Some(false),
        enable_registration: Some(true),
    };
    let page = PageRequest {
        offset: 2,
        items_per_page: 50,
    };
    let range = DateRange {
        start: Some("2026-01-01".into()),
        end: Some("2026-06-30".into()),
        mode: Some(DateFilterMode::Creation),
    };
    vec![
        Operation::GetClient,
        Operation::ListEvents {
            page,
            range: range.clone(),
        },
        Operation::CreateEvent(new_event),
        Operation::GetEvent { event_id: 311512 },
        Operation::UpdateEvent {
            event_id: 311512,
            update,
        },
        Operation::DeleteEvent { event_id: 311512 },
        Operation::CreateRegistrant {
            event_id: 311512,
            registrant: full_registrant("jane.doe@example.com"),
        },
        Operation::UpdateRegistrant {
            event_id: 311512,
            update: RegistrantUpdate {
                registrant: full_registrant("jane.doe@example.com"),
                is_blocked: Some(true),
            },
        },
        Operation::SoftDeleteRegistrant {
            event_id: 311512,
            email: "jane.doe@example.com".into(),
        },
        Operation::ListRegistrationFields { event_id: 311512 },
        Operation::GetRegistrant {
            email: "jane.doe+crm@example.com".into(),
            event_id: Some(311512),
        },
        Operation::ListEventRegistrants {
            event_id: 311512,
            range: DateRange {
                start: Some("2026-11-01".into()),
                end: Some("2026-12-01".into()),
                mode: None,
            },
        },
        Operation::ListClientRegistrants {
            page,
            range: range.clone(),
        },
        Operation::Forget {
            emails: vec!["a@example.com".into(), "b@example.com".into()],
            event_id: Some(311512),
        },
        Operation::ForgetAllInEvent { event_id: 311512 },
        Operation::ListEventAttendees {
            event_id: 311512,
            range: DateRange {
                start: Some("2026-11-01T00:00:00+00:00".into()),
                end: Some("2026-12-01T00:00:00+00:00".into()),
                mode: Some(DateFilterMode::LastActivity),
            },
        },
        Operation::ListClientAttendees { page, range },
        Operation::ListAttendeeSessions {
            event_id: 311512,
            page,
        },
    ]
}

/// Exhaustive on purpose: a new operation does not compile until it has a sample.
fn variant(op: &Operation) -> usize {
    match op {
        Operation::GetClient => 0,
        Operation::ListEvents { .. } => 1,
        Operation::CreateEvent(_) => 2,
        Operation::GetEvent { .. } => 3,
        Operation::UpdateEvent { .. } => 4,
        Operation::DeleteEvent { .. } => 5,
        Operation::CreateRegistrant { .. } => 6,
        Operation::UpdateRegistrant { .. } => 7,
        Operation::SoftDeleteRegistrant { .. } => 8,
        Operation::GetRegistrant { .. } => 9,
        Operation::ListEventRegistrants { .. } => 10,
        Operation::ListClientRegistrants { .. } => 11,
        Operation::Forget { .. } => 12,
        Operation::ForgetAllInEvent { .. } => 13,
        Operation::ListEventAttendees { .. } => 14,
        Operation::ListClientAttendees { .. } => 15,
        Operation::ListAttendeeSessions { .. } => 16,
        Operation::ListRegistrationFields { .. } => 17,
    }
}
const VARIANTS: usize = 18;

/// The contract path template a concrete path (relative to the API root) matches.
fn match_template<'a>(doc: &'a Value, path: &str) -> Option<&'a str> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let paths = doc["paths"].as_object()?;
    let mut found: Vec<&str> = paths
        .keys()
        .filter(|template| {
            let t: Vec<&str> = template.trim_matches('/').split('/').collect();
            t.len() == segs.len()
                && t.iter().zip(&segs).all(|(t, s)| {
                    !s.is_empty() && (t == s || (t.starts_with('{') && t.ends_with('}')))
                })
        })
        .map(String::as_str)
        .collect();
    // A literal segment beats a parameter (e.g. `/event` vs `/{eventId}`).
    found.sort_by_key(|t| t.matches('{').count());
    found.first().copied()
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// Form field names the operation accepts: its requestBody schema properties plus the
/// `formData` rows of the tables in its description (how ON24 documents `isDeleted`).
fn form_fields(doc: &Value, op: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    if let Some(content) = op["requestBody"]["content"].as_object() {
        for media in content.values() {
            let schema = resolve(doc, &media["schema"]);
            if let Some(props) = schema["properties"].as_object() {
                names.extend(props.keys().cloned());
            }
        }
    }
    for line in op["description"].as_str().unwrap_or_default().lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() > 3 && cells[2] == "formData" {
            names.insert(cells[1].trim_matches('*').to_owned());
        }
    }
    names
}

fn params<'a>(op: &'a Value, location: &str) -> Vec<&'a Value> {
    op["parameters"]
        .as_array()
        .map(|ps| ps.iter().filter(|p| p["in"] == location).collect())
        .unwrap_or_default()
}

#[test]
fn every_request_matches_the_openapi_contract() {
    let doc = contract();
    let client = client();
    let samples = samples();
    let covered: BTreeSet<usize> = samples.iter().map(variant).collect();
    assert_eq!(covered.len(), VARIANTS, "every operation needs a sample");

    for op in &samples {
        let name = op.name();
        let req = client
            .build_request(op)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let url = req.url();
        assert_eq!(url.scheme(), "https");
        assert_eq!(url.host_str(), Some("api.on24.com"));
        let rel = url
            .path()
            .strip_prefix("/v2")
            .unwrap_or_else(|| panic!("{name}: path outside /v2"));
        let template = match_template(&doc, rel)
            .unwrap_or_else(|| panic!("{name}: {rel} matches no contract path"));
        let spec = op.spec(CLIENT_ID).expect("spec");
        assert_eq!(template, spec.path_template, "{name}");
        assert!(rel.starts_with(&format!("/client/{CLIENT_ID}")), "{name}");

        let method = req.method().as_str().to_ascii_lowercase();
        let operation = &doc["paths"][template][&method];
        assert!(
            operation.is_object(),
            "{name}: {method} {template} not in contract"
        );

        // Required headers are present; the only non-standard headers sent are declared.
        for p in params(operation, "header") {
            let pname = p["name"].as_str().expect("name");
            if p["required"] == true && pname.eq_ignore_ascii_case("content-type") {
                let ct = req
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok());
                assert_eq!(ct, Some("application/x-www-form-urlencoded"), "{name}");
            } else if p["required"] == true {
                assert!(
                    req.headers().contains_key(pname),
                    "{name}: header {pname} missing"
                );
            }
        }
        let declared: BTreeSet<String> = params(operation, "header")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .map(str::to_ascii_lowercase)
            .collect();
        for (h, _) in req.headers() {
            let h = h.as_str();
            let standard = ["accept", "user-agent", "content-type", "content-length"];
            assert!(
                standard.contains(&h) || declared.contains(h),
                "{name}: undeclared header {h}"
            );
        }
        assert_eq!(req.headers()["accesstokenkey"], KEY);
        assert_eq!(req.headers()["accesstokensecret"], SECRET);

        // Query parameter names are the operation's.
        let query: BTreeSet<String> = params(operation, "query")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .map(str::to_owned)
            .collect();
        for (k, _) in url.query_pairs() {
            assert!(
                query.contains(k.as_ref()),
                "{name}: query {k} not in contract ({query:?})"
            );
        }

        // Form fields are the operation's, and a body is sent where the contract has one.
        let body = req.body().and_then(|b| b.as_bytes()).unwrap_or_default();
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).expect("form body");
        let accepted = form_fields(&doc, operation);
        for (k, _) in &form {
            assert!(
                accepted.contains(k),
                "{name}: form field {k} not in contract ({accepted:?})"
            );
        }
        if operation["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object() {
            assert!(spec.form.is_some(), "{name}: contract expects a form body");
        }
        if let Some(schema) =
            operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
                .as_object()
        {
            let schema = resolve(&doc, &Value::Object(schema.clone())).clone();
            // Required fields of create forms are sent (update forms have none).
            for req_field in schema["required"].as_array().into_iter().flatten() {
                let f = req_field.as_str().expect("field");
                assert!(
                    form.iter().any(|(k, _)| k == f),
                    "{name}: required field {f} missing"
                );
            }
        }

        // Nothing secret or personal in the request's Debug output.
        let dbg = format!("{req:?} {spec:?} {op:?}");
        for leak in [KEY, SECRET, "Jane", "Doe"] {
            assert!(!dbg.contains(leak), "{name}: {leak} leaks into Debug");
        }
    }
}

#[test]
fn matcher_rejects_paths_and_fields_outside_the_contract() {
    // The checks above must be able to fail.
    let doc = contract();
    assert_eq!(match_template(&doc, "/client/1/evnt"), None);
    assert_eq!(match_template(&doc, "/client/1/event/2/attendee/x"), None);
    assert_eq!(
        match_template(&doc, "/client/1/event"),
        Some("/client/{clientId}/event")
    );
    let post = &doc["paths"]["/client/{clientId}/event/{eventId}/registrant"]["post"];
    let fields = form_fields(&doc, post);
    assert!(fields.contains("isDeleted") && fields.contains("firstName"));
    assert!(!fields.contains("isBlocked") && !fields.contains("first_name"));
}

#[test]
fn email_in_path_is_percent_encoded_into_one_segment() {
    let req = client()
        .build_request(&Operation::GetRegistrant {
            email: "a/b?c#d@example.com".into(),
            event_id: None,
        })
        .expect("request");
    let segments: Vec<&str> = req.url().path_segments().expect("path").collect();
    assert_eq!(segments.len(), 5, "{segments:?}"); // v2/client/{id}/registrant/{email}
    assert_eq!(segments[4], "a%2Fb%3Fc%23d@example.com");
    assert!(req.url().query().is_none() && req.url().fragment().is_none());
}

fn examples(doc: &Value, template: &str, method: &str) -> Vec<Value> {
    let content =
        &doc["paths"][template][method]["responses"]["200"]["content"]["application/json"];
    let mut out: Vec<Value> = content.get("example").cloned().into_iter().collect();
    if let Some(ex) = content["examples"].as_object() {
        out.extend(ex.values().map(|e| e["value"].clone()));
    }
    assert!(!out.is_empty(), "{method} {template}: no examples");
    out
}

#[test]
fn contract_examples_decode_into_the_client_types() {
    let doc = contract();
    let ev = "/client/{clientId}/event/{eventId}";
    for v in examples(&doc, "/client/{clientId}", "get") {
        let c: ClientInfo = serde_json::from_value(v).expect("client");
        assert_eq!(c.subclients.first().and_then(|s| s.id), Some(4475));
    }
    for v in examples(&doc, "/client/{clientId}/event", "get") {
        let _: EventPage = serde_json::from_value(v).expect("event page");
    }
    // serde_json sorts example names; pick the plain webinar list by its content.
    let plain = examples(&doc, "/client/{clientId}/event", "get")
        .into_iter()
        .find(|v| v["totalevents"] == 9)
        .expect("example with 9 events");
    let first: EventPage = serde_json::from_value(plain).expect("page");
    assert_eq!(first.totalevents, Some(9));
    assert_eq!(first.events[0].eventid, Some(9922511));
    for (t, m) in [("/client/{clientId}/event", "post"), (ev, "put")] {
        let with_event: Vec<Value> = examples(&doc, t, m)
            .into_iter()
            .filter(|v| v["wccevent"].is_object())
            .collect();
        assert!(!with_event.is_empty(), "{m} {t}");
        for v in with_event {
            let e: WccEvent = serde_json::from_value(v["wccevent"].clone()).expect("wccevent");
            assert!(e.event_id.is_some_and(|id| id > 0), "{m} {t}");
        }
    }
    for v in examples(&doc, ev, "get") {
        let _: Event = serde_json::from_value(v).expect("event");
    }
    let fields: RegistrationFields =
        serde_json::from_value(examples(&doc, &format!("{ev}/regfield"), "get")[0].clone())
            .expect("registration fields");
    let title = fields
        .registrationfields
        .iter()
        .find(|f| f.fieldid.as_deref() == Some("job_title"))
        .expect("a listbox field");
    assert_eq!(title.required, Some(true));
    assert_eq!(title.options.len(), 8);
    for (t, m) in [
        (format!("{ev}/registrant"), "post"),
        (format!("{ev}/registrant"), "patch"),
    ] {
        let r: Registrant =
            serde_json::from_value(examples(&doc, &t, m)[0].clone()).expect("registrant");
        assert_eq!(r.eventuserid, Some(150148905));
        assert_eq!(r.isblocked, Some(true));
    }
    let r: RegistrantPage =
        serde_json::from_value(examples(&doc, &format!("{ev}/registrant"), "get")[0].clone())
            .expect("regs");
    assert_eq!(
        (r.totalregistrants, r.registrants[0].eventuserid),
        (Some(1), Some(49177588))
    );
    let r: RegistrantPage =
        serde_json::from_value(examples(&doc, "/client/{clientId}/registrant", "get")[0].clone())
            .expect("regs");
    assert_eq!(r.pagecount, Some(1));
    let v = examples(&doc, "/client/{clientId}/registrant/{email}", "get")[0].clone();
    let r: Registrant = serde_json::from_value(v["registrant"].clone()).expect("registrant");
    assert_eq!(r.eventuserid, Some(49177588));
    for v in examples(&doc, &format!("{ev}/attendee"), "get") {
        let a: AttendeePage = serde_json::from_value(v).expect("attendees");
        assert!(a.attendees[0].eventuserid.is_some());
    }
    let a: AttendeePage =
        serde_json::from_value(examples(&doc, &format!("{ev}/attendee"), "get")[0].clone())
            .expect("attendees");
    let first = &a.attendees[0];
    assert_eq!(
        (
            first.liveminutes,
            first.archiveminutes,
            first.engagementscore
        ),
        (Some(40), Some(120), Some(8.5))
    );
    let a: AttendeePage =
        serde_json::from_value(examples(&doc, "/client/{clientId}/attendee", "get")[0].clone())
            .expect("attendees");
    assert_eq!(a.attendees[0].eventid, Some(1000607));
    let s: AttendeeSessionPage =
        serde_json::from_value(examples(&doc, &format!("{ev}/attendeesession"), "get")[0].clone())
            .expect("sessions");
    assert_eq!(
        (s.totalattendeesessions, s.attendeesession.len()),
        (Some(2), 2)
    );
    assert_eq!(s.attendeesession[0].id, Some(150332406));
    for t in [
        "/client/{clientId}/forget",
        "/client/{clientId}/forgetall",
        &format!("{ev}/forgetall"),
    ] {
        let f: ForgetResponse =
            serde_json::from_value(examples(&doc, t, "post")[0].clone()).expect("forget");
        assert!(!f.deletedregistrants.eventuserids.is_empty(), "{t}");
    }
    let m: MessageResponse =
        serde_json::from_value(examples(&doc, ev, "delete")[0].clone()).expect("msg");
    assert_eq!(m.message.as_deref(), Some("Event Successfully Deleted."));
}
