//! The README's webinarctl tour against the real stack started by `xtask up` as a process:
//! every step asserted on `--output json`, exit codes of failures, then SIGINT, a clean exit,
//! and a restart that still has the data.

use std::time::Duration;

use serde_json::Value;

use crate::stack::Stack;

#[test]
fn webinarctl_tour_then_restart_keeps_the_data() {
    let state = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(state.path());

    let keys = stack.ctl_ok(&["keys", "list"]);
    assert!(
        keys.as_array()
            .expect("array")
            .iter()
            .any(|k| k["name"] == "keys/on24-credentials"),
        "{keys}"
    );

    let credentials = stack.ctl_ok(&["credentials", "put", "--from-stack"]);
    assert_eq!(credentials["client_id"], "10001");
    assert_eq!(
        credentials["access_token_key_last_four"]
            .as_str()
            .expect("last four")
            .len(),
        4
    );
    let checked = stack.ctl_ok(&["credentials", "check"]);
    assert_eq!(checked["status"], "HEALTHY", "{checked}");

    let webinar = stack.ctl_ok(&[
        "webinar",
        "create",
        "--crm-ref",
        "tour-1",
        "--title",
        "Tour",
        "--start",
        "2030-01-01T15:00:00Z",
        "--duration",
        "60",
        "--time-zone",
        "Europe/Paris",
    ]);
    let id = webinar["id"].as_str().expect("id").to_string();
    assert_eq!(webinar["title"], "Tour");

    let register = [
        "register",
        "--webinar",
        &id,
        "--email",
        "ann@example.com",
        "--first-name",
        "Ann",
        "--last-name",
        "Lee",
    ];
    let first = stack.ctl_ok(&register);
    assert_eq!(first["created"], true);
    let again = stack.ctl_ok(&register);
    assert_eq!(
        again["created"], false,
        "registering twice must not create twice"
    );
    assert_eq!(again["name"], first["name"]);

    // Delivery to the simulator happens in the background.
    let delivered = testkit::eventually_sync(
        "the registration delivered",
        Duration::from_secs(60),
        || {
            let delivered = stack.ctl_ok(&[
                "registrations",
                "list",
                "--webinar",
                &id,
                "--status",
                "DELIVERED",
            ]);
            delivered
                .as_array()
                .is_some_and(|a| a.len() == 1)
                .then_some(delivered)
        },
    );
    assert!(delivered[0]["on24_event_user_id"].as_i64().unwrap_or(0) > 0);

    let metrics = stack.ctl_ok(&["metrics", "show", &id]);
    assert_eq!(metrics["registration_count"], 1);
    assert_eq!(metrics["delivered_count"], 1);
    stack.ctl_ok(&["metrics", "sync", &id]);

    let (code, out, _) = stack.ctl(&["metrics", "watch", "--until-caught-up"]);
    assert_eq!(code, 0);
    let changes: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert!(changes.iter().any(|c| c["type"] == "REGISTRATION"), "{out}");

    // The streaming feed (WatchChanges) gives the same changes, each with its cursor.
    let (code, out, err) = stack.ctl(&["metrics", "watch", "--count", "2"]);
    assert_eq!(code, 0, "{err}");
    let streamed: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(streamed.len(), 2);
    assert_eq!(streamed[0]["cursor"], changes[0]["cursor"]);

    // Failures have documented exit codes and say what is wrong.
    let (code, _, _) = stack.ctl(&["webinar", "show", "00000000-0000-4000-8000-000000000000"]);
    assert_eq!(code, 3, "not found");
    let (code, _, err) = stack.ctl(&[
        "register",
        "--webinar",
        &id,
        "--email",
        "not-an-email",
        "--first-name",
        "A",
        "--last-name",
        "B",
    ]);
    assert_eq!(code, 4, "invalid input: {err}");
    assert!(err.contains("email"), "the field is named: {err}");

    let stack_json = stack.stack_json.clone();
    let status = stack.interrupt();
    assert!(
        status.success(),
        "xtask up must exit cleanly on SIGINT: {status}"
    );
    assert!(
        !stack_json.exists(),
        "stack.json is removed when the stack stops"
    );

    let stack = Stack::start(state.path());
    let shown = stack.ctl_ok(&["webinar", "show", &id]);
    assert_eq!(shown["crm_reference_id"], "tour-1");
    let registrations = stack.ctl_ok(&["registrations", "list", "--webinar", &id]);
    assert_eq!(registrations.as_array().map(Vec::len), Some(1));
    assert_eq!(registrations[0]["email"], "ann@example.com");
    let credentials = stack.ctl_ok(&["credentials", "show"]);
    assert_eq!(credentials["client_id"], "10001");
    assert!(stack.interrupt().success());
}

#[test]
fn the_stack_starts_stops_on_sigint_and_keeps_its_keys_then_purges() {
    let state = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(state.path());
    let before = stack.ctl_ok(&["keys", "rotate", "on24-credentials"]);
    let version = before["primary_version"].as_u64().expect("version");
    assert!(stack.interrupt().success());
    let stack = Stack::start(state.path());
    let after = stack.ctl_ok(&["keys", "show", "on24-credentials"]);
    assert_eq!(after["primary_version"].as_u64(), Some(version));
    let (code, _, _) = stack.ctl(&["credentials", "show"]);
    assert_eq!(code, 3, "no credentials yet: NOT_FOUND");

    // Offboarding: only the tenant policy's administrator purges, and only with --yes.
    stack.ctl_ok(&["credentials", "put", "--from-stack"]);
    let (code, _, err) = stack.ctl(&["tenant", "purge"]);
    assert_eq!(code, 4, "--yes is required: {err}");
    let (code, _, err) = stack.ctl(&["tenant", "purge", "--yes"]);
    assert_eq!(code, 5, "the CRM identity is no administrator: {err}");
    let purged = stack.ctl_ok(&["--identity", "admin", "tenant", "purge", "--yes"]);
    assert_eq!(purged["deleted"]["provider_configs"], 1, "{purged}");
    let (code, _, _) = stack.ctl(&["credentials", "show"]);
    assert_eq!(code, 3, "purged: NOT_FOUND");
    assert!(stack.interrupt().success());
}
