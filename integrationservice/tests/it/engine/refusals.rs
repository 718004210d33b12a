//! Quota and credential answers met by several calls at once (as when replicas deliver side
//! by side) neither lose nor hold work they should not: a burst of quota 403s pauses the
//! tenant once instead of once per call; a 401 to a call made with credentials that were
//! replaced while it was on the wire does not hold the tenant; a job enqueued just as the
//! tenant was refused is held with the tenant's work, not left leased until its lease ends.

use std::time::Duration;

use diesel::prelude::*;
use integrationservice::domain::{CredentialStatus, Error, RegistrationStatus, TenantId, jobs};
use integrationservice::testing::{StoreError, outbox, providers};
use on24sim::FaultConfig;

use crate::both_backends;
use crate::engine::harness::{
    CLIENT_ID, Db, Stack, TOKEN_KEY, TOKEN_SECRET, eventually, fast_workers, person, tenant_id,
};

const KEY2: &str = "sim-token-key-0002";
const SECRET2: &str = "sim-token-secret-0002";

/// Adds a second token of the test account at the simulator and puts it as the tenant's
/// credentials (checked).
async fn put_second_token(stack: &Stack, tenant: &TenantId) {
    stack
        .sim
        .control()
        .add_account(CLIENT_ID, KEY2, SECRET2, true)
        .await
        .expect("account");
    let config = stack
        .engine
        .providers()
        .put(tenant, stack.account_credentials(CLIENT_ID, KEY2, SECRET2))
        .await
        .expect("put");
    assert_eq!(config.status, CredentialStatus::Healthy);
}

async fn throttle_of(stack: &Stack, tenant: &TenantId) -> (Option<i64>, i32) {
    let t = tenant.clone();
    let row = stack
        .engine
        .store()
        .run(move |conn| providers::get(conn, &t).map_err(StoreError::from))
        .await
        .expect("row")
        .expect("config");
    (row.throttle_until, row.throttle_level)
}

async fn quota_burst_pauses_once(db: Db) {
    let mut workers = fast_workers();
    workers.concurrency = 16;
    workers.per_tenant_concurrency = 8;
    // Long enough that the checks below run inside the pause even on a loaded machine.
    workers.quota_pause = Duration::from_secs(6);
    workers.quota_pause_max = Duration::from_secs(60);
    let stack = Stack::start_with(db, workers, Duration::from_secs(5)).await;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (webinar, _) = stack.active_webinar(&tenant, "ev-burst").await;

    // Eight deliveries go out together and all meet the spent quota 300 ms later.
    let control = stack.sim.control();
    control
        .set_faults(&FaultConfig {
            latency_ms: 300,
            ..FaultConfig::default()
        })
        .await
        .expect("faults");
    control
        .set_quota(Some(CLIENT_ID), Some(0), Duration::from_secs(60))
        .await
        .expect("quota");
    stack
        .engine
        .registrations()
        .register_batch(&tenant, &webinar, (0..8).map(person).collect())
        .await
        .expect("batch");
    let retrying = stack
        .wait_all(
            &tenant,
            &webinar,
            8,
            RegistrationStatus::Retrying,
            Duration::from_secs(10),
        )
        .await;
    let (until, level) = throttle_of(&stack, &tenant).await;
    assert_eq!(level, 1, "one burst, one step of the slow-down");
    let until = until.expect("paused");
    assert!(
        retrying
            .iter()
            .all(|r| r.next_attempt_at == Some(until) && r.last_error.is_some()),
        "every delivery waits for the same pause"
    );
    assert_eq!(
        stack.journal_count("POST", "/registrant").await,
        8,
        "nothing more is sent during the pause"
    );

    // Quota back: everything is delivered, and a success after the pause clears it.
    control
        .set_quota(Some(CLIENT_ID), None, Duration::from_secs(60))
        .await
        .expect("quota");
    control.clear_faults().await.expect("faults");
    stack
        .wait_all(
            &tenant,
            &webinar,
            8,
            RegistrationStatus::Delivered,
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(throttle_of(&stack, &tenant).await, (None, 0));
}

async fn refusal_of_replaced_credentials_holds_nothing(db: Db) {
    let stack = Stack::start(db).await;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (webinar, _) = stack.active_webinar(&tenant, "ev-replaced").await;

    // The delivery's call sits 3 s at ON24 before being authenticated (time enough for the
    // new credentials to be put first, even on a loaded machine)...
    stack
        .sim
        .control()
        .set_faults(&FaultConfig {
            latency_ms: 3000,
            only_method: Some("POST".into()),
            only_path_suffix: Some("/registrant".into()),
            ..FaultConfig::default()
        })
        .await
        .expect("faults");
    stack
        .engine
        .registrations()
        .register(&tenant, &webinar, person(1))
        .await
        .expect("register");
    eventually(
        "the delivery on the wire",
        Duration::from_secs(5),
        || async {
            (stack.journal_count("POST", "/registrant").await == 0
                && stack
                    .sim
                    .control()
                    .inflight(CLIENT_ID)
                    .await
                    .ok()
                    .is_some_and(|f| f.current > 0))
            .then_some(())
        },
    )
    .await;
    // ...meanwhile its token is deactivated (so that call gets a 401) and the CRM puts a new
    // token, which works.
    stack
        .sim
        .control()
        .deactivate_token(TOKEN_KEY)
        .await
        .expect("deactivate");
    put_second_token(&stack, &tenant).await;
    assert_eq!(
        stack.journal_count("POST", "/registrant").await,
        0,
        "the new credentials were in place while the old call still waited"
    );
    stack.sim.control().clear_faults().await.expect("faults");

    let delivered = stack
        .wait_all(
            &tenant,
            &webinar,
            1,
            RegistrationStatus::Delivered,
            Duration::from_secs(15),
        )
        .await;
    assert!(delivered[0].eventuserid.is_some());
    let journal = stack.sim.control().journal().await.expect("journal");
    assert!(
        journal
            .iter()
            .any(|e| e.path.ends_with("/registrant") && e.status == 401),
        "the old token was refused"
    );
    let config = stack.engine.providers().get(&tenant).await.expect("config");
    assert_eq!(
        config.status,
        CredentialStatus::Healthy,
        "the new credentials are not blamed: {:?}",
        config.status_message
    );
}

async fn job_of_refused_tenant_is_held(db: Db) {
    let stack = Stack::start(db).await;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (webinar, _) = stack.active_webinar(&tenant, "ev-held").await;
    stack
        .sim
        .control()
        .deactivate_token(TOKEN_KEY)
        .await
        .expect("deactivate");
    let checked = stack
        .engine
        .providers()
        .check(&tenant)
        .await
        .expect("check");
    assert!(checked.status.blocks_calls(), "{:?}", checked.status);

    // A transaction that read the tenant as enabled just before the refusal commits its job
    // READY (the domain enqueues PAUSED for a refused tenant, so write it as that race would).
    let (t, w) = (tenant.clone(), webinar);
    stack
        .engine
        .store()
        .transaction(move |conn| {
            outbox::enqueue(
                conn,
                &[outbox::new_job(
                    &t,
                    jobs::JobKind::SyncMetrics,
                    Some(&w),
                    None,
                    None,
                )],
            )
            .map_err(StoreError::from)
        })
        .await
        .expect("enqueue");
    stack.engine.signals().jobs_added();
    let t = tenant.clone();
    let store = stack.engine.store().clone();
    eventually(
        "the job held with the tenant's work",
        Duration::from_secs(5),
        || {
            let (t, store) = (t.clone(), store.clone());
            async move {
                let paused = store
                    .run(move |conn| {
                        outbox::count(conn, &t, outbox::PAUSED).map_err(StoreError::from)
                    })
                    .await
                    .ok()?;
                (paused == 1).then_some(())
            }
        },
    )
    .await;

    // New credentials: the held job runs at once and completes.
    put_second_token(&stack, &tenant).await;
    let t = tenant.clone();
    eventually("the held job done", Duration::from_secs(10), || {
        let (t, store) = (t.clone(), store.clone());
        async move {
            let left = store
                .run(move |conn| {
                    use integrationservice::testing::schema::outbox_jobs::dsl as j;
                    j::outbox_jobs
                        .filter(j::tenant.eq(&t))
                        .count()
                        .get_result::<i64>(conn)
                        .map_err(StoreError::from)
                })
                .await
                .ok()?;
            (left == 0).then_some(())
        }
    })
    .await;
}

both_backends!(quota_burst_slows_the_tenant_once, quota_burst_pauses_once);
both_backends!(
    refusal_of_replaced_credentials_holds_nothing_,
    refusal_of_replaced_credentials_holds_nothing
);
both_backends!(
    job_enqueued_as_tenant_refused_is_held,
    job_of_refused_tenant_is_held
);

/// Credential puts past the tenant's data-key generation limit are refused before the key
/// service is asked (its audit log counts the generations), while another tenant's puts go on.
async fn key_generation_limited_per_tenant(db: Db) {
    let stack = Stack::start_opt(db, None, Duration::from_secs(10)).await;
    // Two at once, then one a minute: the third put in a row is refused.
    let engine = stack.engine.clone().with_key_generation_limit(1, 2);
    let generated = || {
        std::fs::read_to_string(stack.keys.audit_path())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"operation\":\"generate\""))
            .count()
    };
    let (acme, globex) = (tenant_id("acme"), tenant_id("globex"));
    for _ in 0..2 {
        engine
            .providers()
            .put(&acme, stack.credentials(TOKEN_SECRET))
            .await
            .expect("within the burst");
    }
    eventually(
        "two generations audited",
        Duration::from_secs(10),
        || async { generated() == 2 },
    )
    .await;
    let refused = engine
        .providers()
        .put(&acme, stack.credentials(TOKEN_SECRET))
        .await;
    assert!(
        matches!(refused, Err(Error::RateLimited { retry_after_ms, .. }) if retry_after_ms > 0),
        "{refused:?}"
    );
    engine
        .providers()
        .put(&globex, stack.credentials(TOKEN_SECRET))
        .await
        .expect("another tenant's put");
    // The refused put asked for no key: the audit holds acme's two and globex's one, in order.
    eventually(
        "globex's generation audited",
        Duration::from_secs(10),
        || async { generated() == 3 },
    )
    .await;
}

both_backends!(
    credential_puts_over_the_tenant_limit_are_refused,
    key_generation_limited_per_tenant
);
