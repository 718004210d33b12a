//! `webinarctl import` of answers to a webinar's registration questions against the real
//! stack: the questions (one required choice, one free text, one multiple choice) are defined
//! at the simulator and read by the service; `question:<id>` columns carry the answers; a row
//! with an answer that is not an option and one without the required answer are reported by
//! line and field without echoing the answer; the good rows reach ON24 with their answers.

use std::time::Duration;

use on24sim::{ControlClient, RegField};
use serde_json::Value;

use crate::{backfill::demo_on24, stack::Stack};

/// The bad answer of line 3: never in the report or the output.
const BAD_ANSWER: &str = "Carrier pigeon";

/// ON24's standard fields and three custom questions.
fn questions() -> Vec<RegField> {
    let question = |id: &str, field_type: &str, required: bool, options: &[&str]| RegField {
        field_id: id.into(),
        caption: format!("Question {id}"),
        field_type: field_type.into(),
        validation_type: "none".into(),
        required,
        options: options.iter().map(|o| (*o).to_owned()).collect(),
    };
    let mut fields = on24sim::state::regfields::default_fields();
    fields.push(question(
        "std1",
        "radio",
        true,
        &["Email", "Partner", "Web"],
    ));
    fields.push(question("std2", "textarea", false, &[]));
    fields.push(question(
        "std3",
        "checkbox",
        false,
        &["Rust", "Go", "Python"],
    ));
    fields
}

/// Header (line 1) and four rows: lines 3 and 4 are refused.
const CSV: &str = "\
email,first_name,last_name,Question:std1,question:std2,question:std3
ann@example.com,Ann,Lee,Partner,\"What is new, and when?\",\"Rust,Go\"
bo@example.com,Bo,Ng,Carrier pigeon,,
cy@example.com,Cy,Ng,,Nothing to ask,Python
di@example.com,Di,Xu,Web,,
";

#[test]
fn import_carries_answers_to_registration_questions() {
    let state = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(state.path());
    stack.ctl_ok(&["credentials", "put", "--from-stack"]);
    let webinar = stack.ctl_ok(&[
        "webinar",
        "create",
        "--crm-ref",
        "import-questions",
        "--title",
        "Import with questions",
        "--start",
        "2030-02-01T15:00:00Z",
    ]);
    let id = webinar["id"].as_str().expect("id").to_string();
    let show = || stack.ctl_ok(&["webinar", "show", &id]);
    let event = testkit::eventually_sync(
        "the webinar created at ON24 and its questions read",
        Duration::from_secs(60),
        || {
            let w = show();
            let event = w["on24_event_id"].as_i64().filter(|e| *e > 0);
            event.filter(|_| !w["registration_questions_read_time"].is_null())
        },
    );

    // The organiser adds the questions at ON24; a metrics sync reads them.
    let stack_json: Value =
        serde_json::from_slice(&std::fs::read(&stack.stack_json).expect("stack.json"))
            .expect("stack.json is JSON");
    let control = ControlClient::new(
        stack_json["on24sim"]["control_url"]
            .as_str()
            .expect("control url"),
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime
        .block_on(control.set_registration_fields(event, &questions()))
        .expect("questions at ON24");
    stack.ctl_ok(&["metrics", "sync", &id]);
    testkit::eventually_sync("the questions read", Duration::from_secs(60), || {
        show()["registration_questions"]
            .as_array()
            .is_some_and(|q| q.len() == 3)
    });

    let file = state.path().join("answers.csv");
    std::fs::write(&file, CSV).expect("write CSV");
    let report = state.path().join("report.csv");
    let (code, out, err) = stack.ctl(&[
        "import",
        file.to_str().expect("path"),
        "--webinar",
        &id,
        "--report",
        report.to_str().expect("path"),
    ]);
    assert_eq!(code, 8, "refused rows give exit code 8: {err}");
    let summary: Value = serde_json::from_str(&out).expect("summary JSON");
    assert_eq!(summary["created"], 2, "{summary}");
    assert_eq!(summary["refused"], 2, "{summary}");

    let text = std::fs::read_to_string(&report).expect("report");
    for shown in [&text, &out, &err] {
        assert!(!shown.contains(BAD_ANSWER), "the answer is echoed: {shown}");
    }
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let refused: Vec<(String, String, String)> = reader
        .records()
        .map(|r| {
            let r = r.expect("record");
            (r[0].to_owned(), r[1].to_owned(), r[4].to_owned())
        })
        .collect();
    let field = r#"registration.question_answers["std1"]"#;
    assert_eq!(
        refused,
        [
            ("3".into(), "bo@example.com".into(), field.into()),
            ("4".into(), "cy@example.com".into(), field.into()),
        ],
        "{text}"
    );

    // The good rows reach ON24 with their answers under the questions' field ids.
    let on24 = demo_on24(&stack);
    let event = u64::try_from(event).expect("event id");
    let ann = testkit::eventually_sync("Ann at ON24", Duration::from_secs(60), || {
        runtime
            .block_on(on24.get_registrant("ann@example.com", Some(event)))
            .ok()
    });
    assert_eq!(ann.std1.as_deref(), Some("Partner"));
    assert_eq!(ann.std2.as_deref(), Some("What is new, and when?"));
    assert_eq!(ann.std3.as_deref(), Some("Rust,Go"));
    let di = testkit::eventually_sync("Di at ON24", Duration::from_secs(60), || {
        runtime
            .block_on(on24.get_registrant("di@example.com", Some(event)))
            .ok()
    });
    assert_eq!(di.std1.as_deref(), Some("Web"));
    let journal = runtime.block_on(control.journal()).expect("journal");
    assert!(
        journal
            .iter()
            .all(|e| e.form.iter().all(|(_, v)| v != BAD_ANSWER)),
        "a refused answer reached ON24"
    );
    assert!(stack.interrupt().success());
}
