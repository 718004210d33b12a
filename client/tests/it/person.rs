//! `webinarctl person` against the whole local stack: `export` prints the person's
//! registrations as JSON (and nobody else's), `forget` answers with an erasure request that
//! `status` follows to DONE, and `status --email` then shows the request and the
//! suppression; a bad address exits with the invalid-input code.

use std::time::Duration;

use crate::stack::Stack;

#[test]
fn person_export_forget_and_status() {
    let state = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(state.path());
    stack.ctl_ok(&["credentials", "put", "--from-stack"]);
    let webinar = stack.ctl_ok(&[
        "webinar",
        "create",
        "--crm-ref",
        "person-1",
        "--title",
        "Person",
        "--start",
        "2030-03-01T15:00:00Z",
    ]);
    let id = webinar["id"].as_str().expect("id").to_string();
    for email in ["ann@example.com", "bob@example.com"] {
        stack.ctl_ok(&[
            "register",
            "--webinar",
            &id,
            "--email",
            email,
            "--first-name",
            "First",
            "--last-name",
            "Last",
        ]);
    }

    let export = stack.ctl_ok(&["person", "export", "--email", "Ann@Example.com"]);
    let registrations = export["registrations"].as_array().expect("registrations");
    assert_eq!(registrations.len(), 1, "{export}");
    assert_eq!(registrations[0]["email"], "ann@example.com");
    assert_eq!(export["suppressed"], false);
    assert!(!export.to_string().contains("bob@"), "{export}");

    let forgot = stack.ctl_ok(&["person", "forget", "--email", "ann@example.com"]);
    assert_eq!(forgot["forgotten_registration_count"], 1);
    let request = forgot["erasure_request"]["name"]
        .as_str()
        .expect("erasure request name")
        .to_string();
    let short = request.rsplit('/').next().expect("id").to_string();
    let done = testkit::eventually_sync("the erasure DONE", Duration::from_secs(60), || {
        let status = stack.ctl_ok(&["person", "status", &short]);
        (status["state"] == "DONE").then_some(status)
    });
    assert_eq!(done["name"], request.as_str());

    let by_email = stack.ctl_ok(&["person", "status", "--email", "ann@example.com"]);
    assert_eq!(by_email["suppressed"], true);
    assert_eq!(by_email["erasure_requests"][0]["name"], request.as_str());
    let after = stack.ctl_ok(&["person", "export", "--email", "ann@example.com"]);
    assert_eq!(after["registrations"].as_array().map(Vec::len), Some(0));

    let (code, _, err) = stack.ctl(&["person", "export", "--email", "not-an-address"]);
    assert_eq!(code, 4, "invalid input: {err}");
}
