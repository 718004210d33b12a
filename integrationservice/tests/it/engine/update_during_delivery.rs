//! A change the CRM makes to a registration while a worker is delivering it (or pushing an
//! earlier change) to ON24 reaches ON24 too: the running job read the row before the change,
//! so the same work runs once more after it, never beside it (a registration's jobs run
//! in order). Both backends.

use std::time::Duration;

use integrationservice::domain::{
    PersonName, RegistrationId, RegistrationPatch, RegistrationStatus, TenantId, WebinarId,
};
use on24sim::FaultConfig;

use crate::both_backends;
use crate::engine::harness::{CLIENT_ID, Db, Stack, eventually, person};

/// ON24 answers registrant calls this late, so a change lands while one is on the wire.
const SLOW_MS: u64 = 1_500;

async fn slow_registrant_calls(stack: &Stack) {
    stack
        .sim
        .control()
        .set_faults(&FaultConfig {
            latency_ms: SLOW_MS,
            only_path_suffix: Some("/registrant".into()),
            ..FaultConfig::default()
        })
        .await
        .expect("faults");
}

/// Waits until a call of the test account is being served by the simulator.
async fn on_the_wire(stack: &Stack) {
    eventually("a call at ON24", Duration::from_secs(20), || async {
        let now = stack.sim.control().inflight(CLIENT_ID).await.ok()?;
        (now.current > 0).then_some(())
    })
    .await;
}

async fn rename(stack: &Stack, at: (&TenantId, &WebinarId, &RegistrationId), first: &str) {
    let (tenant, webinar, id) = at;
    stack
        .engine
        .registrations()
        .update(
            tenant,
            webinar,
            id,
            RegistrationPatch {
                first_name: Some(PersonName::parse(first).expect("name")),
                ..RegistrationPatch::default()
            },
        )
        .await
        .expect("update");
}

/// Waits until ON24 holds `first` as the registrant's first name and the registration is
/// DELIVERED with no job left.
async fn settled_at_on24(
    stack: &Stack,
    at: (&TenantId, &WebinarId, &RegistrationId),
    event: i64,
    email: &str,
    first: &str,
) {
    let on24 = stack.on24();
    eventually(
        &format!("ON24 holds {first}"),
        Duration::from_secs(30),
        || async {
            let held = on24.get_registrant(email, Some(event as u64)).await.ok()?;
            (held.firstname.as_deref() == Some(first)).then_some(())
        },
    )
    .await;
    let (tenant, webinar, id) = at;
    eventually(
        "delivered, nothing queued",
        Duration::from_secs(30),
        || async {
            let r = stack
                .engine
                .registrations()
                .get(tenant, webinar, id)
                .await
                .ok()?;
            let idle = stack.sim.control().inflight(CLIENT_ID).await.ok()?.current == 0;
            (r.status == RegistrationStatus::Delivered && idle).then_some(())
        },
    )
    .await;
}

async fn change_while_running(db: Db) {
    let stack = Stack::start(db).await;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (webinar, event) = stack.active_webinar(&tenant, "ev-change-in-flight").await;
    slow_registrant_calls(&stack).await;
    let who = person(1);
    let email = who.email.as_str().to_owned();
    let (created, _) = stack
        .engine
        .registrations()
        .register(&tenant, &webinar, who)
        .await
        .expect("register");
    let at = (&tenant, &webinar, &created.id);

    // The delivery is at ON24 with the first name as registered; the CRM renames meanwhile.
    on_the_wire(&stack).await;
    rename(&stack, at, "Renamed").await;
    settled_at_on24(&stack, at, event, &email, "Renamed").await;

    // The same while an update (not the first delivery) is at ON24.
    rename(&stack, at, "Second").await;
    on_the_wire(&stack).await;
    rename(&stack, at, "Third").await;
    settled_at_on24(&stack, at, event, &email, "Third").await;
}

both_backends!(
    a_change_made_while_a_job_runs_reaches_on24,
    change_while_running
);
