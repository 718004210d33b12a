//! The access audit through the public API with everything real (TLS, the key service, the
//! ON24 simulator, SQLite or PostgreSQL): each call that reads or changes personal data adds
//! one line to the audit log with the caller, the tenant, the method and the item count, and
//! no email; `audit verify` accepts the log and rejects it once a line is edited. A log that
//! cannot be written refuses those calls (UNAVAILABLE) instead of answering unaudited.

use proto::webinar::v1::{
    person_data_service_client::PersonDataServiceClient,
    registration_service_client::RegistrationServiceClient,
    webinar_service_client::WebinarServiceClient, *,
};
use tonic::Code;

use super::erasure::{Clients, TENANT};
use crate::api::lifecycle::FullStack;
use crate::api_both_backends;

const PRINCIPAL: &str = "spiffe://webinar.local/crm/tenant-a";

/// The log's access records, as JSON.
fn access_lines(log: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .expect("audit log")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .filter(|v| v["kind"] == "access")
        .collect()
}

async fn audited_calls(database_url: String) {
    let stack = FullStack::start(database_url, |_| {}).await;
    let mut c = Clients::new(&stack).await;
    let mut people = PersonDataServiceClient::new(stack.h.tenant_a().await);
    c.put_credentials(&stack).await;
    let w = c.active_webinar("audit-1", 24 * 60).await;
    let ann = c.register(&w.name, "ann@example.com").await;
    c.register(&w.name, "bob@example.com").await;
    c.get(&ann.name).await;
    let listed = c
        .regs
        .list_registrations(ListRegistrationsRequest {
            parent: w.name.clone(),
            page_size: 10,
            filter: "email = \"ann@example.com\"".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.registrations.len(), 1);
    people
        .export_person_data(ExportPersonDataRequest {
            parent: TENANT.into(),
            email: "ann@example.com".into(),
        })
        .await
        .expect("export");
    c.forget("ann@example.com", false).await;
    c.regs
        .unsuppress_person(UnsuppressPersonRequest {
            parent: TENANT.into(),
            email: "ann@example.com".into(),
        })
        .await
        .expect("unsuppress");
    c.attendee_emails(&w.name).await;
    let backfilled = WebinarServiceClient::new(stack.h.tenant_a().await)
        .backfill_webinars(BackfillWebinarsRequest {
            parent: TENANT.into(),
            since: Some(prost_types::Timestamp {
                seconds: chrono::Utc::now().timestamp() - 30 * 86_400,
                nanos: 0,
            }),
        })
        .await
        .expect("backfill")
        .into_inner();
    let linked = u64::try_from(backfilled.webinars.len()).expect("count");
    // A refused call is recorded too, with its code and no items.
    let refused = people
        .export_person_data(ExportPersonDataRequest {
            parent: TENANT.into(),
            email: "not-an-address".into(),
        })
        .await
        .expect_err("invalid");
    assert_eq!(refused.code(), Code::InvalidArgument);

    let lines = access_lines(&stack.h.audit_log);
    let methods: Vec<&str> = lines
        .iter()
        .map(|l| l["method"].as_str().expect("method"))
        .collect();
    assert_eq!(
        methods,
        [
            "CreateRegistration",
            "CreateRegistration",
            "GetRegistration",
            "ListRegistrations",
            "ExportPersonData",
            "ForgetPerson",
            "UnsuppressPerson",
            "ListAttendeeMetrics",
            "BackfillWebinars",
            "ExportPersonData",
        ],
        "{lines:#?}"
    );
    for line in &lines {
        assert_eq!(line["principal"], PRINCIPAL, "{line}");
        assert_eq!(line["tenant"], "tenant-a", "{line}");
        assert!(!line["request_id"].as_str().unwrap_or_default().is_empty());
    }
    let items: Vec<u64> = lines
        .iter()
        .map(|l| l["items"].as_u64().expect("items"))
        .collect();
    // Export: one registration, no metrics, no request, not suppressed. Forget: one
    // registration. Unsuppress: one lifted. The refused export: none.
    assert_eq!(items, [1, 1, 1, 1, 1, 1, 1, 0, linked, 0], "{lines:#?}");
    assert_eq!(lines[9]["outcome"], "error");
    assert_eq!(lines[9]["code"], "InvalidArgument");
    assert!(
        lines[5]["resource"]
            .as_str()
            .expect("resource")
            .starts_with("tenants/tenant-a/erasureRequests/")
    );
    // No personal value in any line of the log.
    let text = std::fs::read_to_string(&stack.h.audit_log).expect("audit log");
    assert!(!text.contains('@'), "{text}");

    // `audit verify` accepts the chain as written ...
    let report = integrationservice::audit::verify(&stack.h.audit_log, &stack.h.audit_key)
        .expect("the log verifies");
    assert!(report.records >= 10, "{report:?}");
    // ... and finds a line whose item count was edited.
    let copy = tempfile::tempdir().expect("tempdir");
    let edited_log = copy.path().join("audit.log");
    let edited = text.replacen("\"items\":1,", "\"items\":0,", 1);
    assert_ne!(edited, text);
    std::fs::write(&edited_log, edited).expect("write");
    let broken = integrationservice::audit::verify(&edited_log, &stack.h.audit_key)
        .expect_err("an edited line must break the chain");
    assert!(broken.contains("line"), "{broken}");
    // The same through the command line an operator runs.
    let verify = |log: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_integrationservice"))
            .args(["audit", "verify"])
            .arg(log)
            .args(["--key", &stack.h.audit_key])
            .output()
            .expect("integrationservice audit verify")
    };
    let intact = verify(&stack.h.audit_log);
    assert!(intact.status.success(), "{intact:?}");
    assert!(String::from_utf8_lossy(&intact.stdout).contains("chain intact"));
    let edited = verify(&edited_log);
    assert_eq!(edited.status.code(), Some(2), "{edited:?}");
    assert!(String::from_utf8_lossy(&edited.stdout).contains("BROKEN at line"));
    stack.stop().await;
}

api_both_backends!(access_audit_records_each_personal_data_call, audited_calls);

async fn unwritable_audit(database_url: String) {
    // Every write to /dev/full fails (ENOSPC).
    let stack = FullStack::start(database_url, |c| {
        c.audit.sink = "file:/dev/full".into();
    })
    .await;
    let mut c = Clients::new(&stack).await;
    let mut people = PersonDataServiceClient::new(stack.h.tenant_a().await);
    // Calls without personal data are not audited and still work.
    c.put_credentials(&stack).await;
    let w = c.active_webinar("audit-closed", 24 * 60).await;
    let refused = people
        .export_person_data(ExportPersonDataRequest {
            parent: TENANT.into(),
            email: "ann@example.com".into(),
        })
        .await
        .expect_err("unaudited export");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    let mut regs = RegistrationServiceClient::new(stack.h.tenant_a().await);
    let listed = regs
        .list_registrations(ListRegistrationsRequest {
            parent: w.name.clone(),
            ..Default::default()
        })
        .await
        .expect_err("unaudited list");
    assert_eq!(listed.code(), Code::Unavailable, "{listed:?}");
    stack.stop().await;
}

api_both_backends!(access_audit_fails_closed, unwritable_audit);
