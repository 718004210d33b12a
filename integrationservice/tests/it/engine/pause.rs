//! Credential deletion disables only that tenant: its operations answer IntegrationDisabled,
//! its queued deliveries go PAUSED and nothing is lost; putting credentials back resumes them.
//! A permanent 401 marks the tenant NOT_AUTHENTICATED and stops calling ON24.

use std::time::Duration;

use integrationservice::domain::{CredentialStatus, Error, RegistrationStatus};
use on24sim::FaultConfig;

use crate::both_backends;
use crate::engine::harness::{
    CLIENT_ID, Db, Stack, TOKEN_KEY, TOKEN_SECRET, eventually, person, tenant_id,
};

async fn delete_pauses_and_put_resumes(db: Db) {
    let stack = Stack::start(db).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    stack.put_credentials(&tenant_id("bystander")).await;
    let (webinar, _) = stack.active_webinar(&tenant, "ev-pause").await;
    let (other_webinar, _) = stack
        .active_webinar(&tenant_id("bystander"), "ev-other")
        .await;

    // ON24 fails every call, so deliveries stay queued (RETRYING).
    let failing = FaultConfig {
        error_rate: 1.0,
        error_status: 503,
        ..FaultConfig::default()
    };
    stack
        .sim
        .control()
        .set_faults(&failing)
        .await
        .expect("faults");
    engine
        .registrations()
        .register_batch(&tenant, &webinar, (0..20).map(person).collect())
        .await
        .expect("batch");
    eventually("a retry to be visible", Duration::from_secs(10), || async {
        let all = stack.list_all(&tenant, &webinar).await;
        all.iter()
            .find(|r| {
                r.status == RegistrationStatus::Retrying
                    && r.attempts > 0
                    && r.last_error.is_some()
                    && r.next_attempt_at.is_some()
            })
            .cloned()
    })
    .await;

    engine.providers().delete(&tenant).await.expect("delete");
    stack
        .wait_all(
            &tenant,
            &webinar,
            20,
            RegistrationStatus::Paused,
            Duration::from_secs(10),
        )
        .await;
    let refused = engine
        .registrations()
        .register(&tenant, &webinar, person(99))
        .await;
    assert!(
        matches!(refused, Err(Error::IntegrationDisabled { .. })),
        "{refused:?}"
    );
    assert!(matches!(
        engine.providers().get(&tenant).await,
        Err(Error::NotFound { .. })
    ));

    // ON24 works again, but the tenant stays held: no call for it reaches ON24.
    stack.sim.control().clear_faults().await.expect("faults");
    stack.sim.control().clear_journal().await.expect("journal");
    // The other tenant is not affected.
    engine
        .registrations()
        .register(&tenant_id("bystander"), &other_webinar, person(1))
        .await
        .expect("bystander");
    stack
        .wait_all(
            &tenant_id("bystander"),
            &other_webinar,
            1,
            RegistrationStatus::Delivered,
            Duration::from_secs(20),
        )
        .await;
    // A second bystander delivery, enqueued after the first was done, proves the workers went
    // through their queue again after the held tenant's jobs could have been picked up.
    engine
        .registrations()
        .register(&tenant_id("bystander"), &other_webinar, person(2))
        .await
        .expect("bystander");
    stack
        .wait_all(
            &tenant_id("bystander"),
            &other_webinar,
            2,
            RegistrationStatus::Delivered,
            Duration::from_secs(20),
        )
        .await;
    let paused = stack.list_all(&tenant, &webinar).await;
    assert!(
        paused
            .iter()
            .all(|r| r.status == RegistrationStatus::Paused)
    );
    assert_eq!(
        stack.journal_count("POST", "/registrant").await,
        2,
        "only the bystander's deliveries"
    );

    // Credentials back: everything queued is delivered.
    engine
        .providers()
        .put(&tenant, stack.credentials(TOKEN_SECRET))
        .await
        .expect("put back");
    stack
        .wait_all(
            &tenant,
            &webinar,
            20,
            RegistrationStatus::Delivered,
            Duration::from_secs(30),
        )
        .await;
}

async fn unauthorized_stops_calling(db: Db) {
    let stack = Stack::start(db).await;
    let engine = &stack.engine;
    let tenant = stack.tenant.clone();
    stack.put_credentials(&tenant).await;
    let (webinar, _) = stack.active_webinar(&tenant, "ev-401").await;

    // The token is deactivated at ON24: the next call answers 401.
    stack
        .sim
        .control()
        .deactivate_token(TOKEN_KEY)
        .await
        .expect("deactivate");
    stack.sim.control().clear_journal().await.expect("journal");
    engine
        .registrations()
        .register_batch(&tenant, &webinar, (0..30).map(person).collect())
        .await
        .expect("batch");
    let config = eventually(
        "the tenant to be marked refused",
        Duration::from_secs(10),
        || async {
            let c = engine.providers().get(&tenant).await.ok()?;
            c.status.blocks_calls().then_some(c)
        },
    )
    .await;
    assert!(
        matches!(
            config.status,
            CredentialStatus::TokenExpired | CredentialStatus::NotAuthenticated
        ),
        "{:?}",
        config.status
    );
    assert!(config.status_message.is_some());
    stack
        .wait_all(
            &tenant,
            &webinar,
            30,
            RegistrationStatus::Paused,
            Duration::from_secs(10),
        )
        .await;
    // Calls already on the wire when the 401 came back may still land; then nothing more.
    let control = stack.sim.control();
    eventually("no call on the wire", Duration::from_secs(10), || async {
        control.inflight(CLIENT_ID).await.expect("inflight").current == 0
    })
    .await;
    let refused_calls = || async {
        control
            .journal()
            .await
            .expect("journal")
            .iter()
            .filter(|e| e.token_key.as_deref() == Some(TOKEN_KEY))
            .count()
    };
    let calls = refused_calls().await;
    // A bystander on another ON24 account gets a webinar and a delivery: the workers ran
    // their queue again after the refused tenant's jobs were paused.
    const BYSTANDER: (i64, &str, &str) = (22335, "bystander-key-0001", "bystander-secret-0001");
    control
        .add_account(BYSTANDER.0, BYSTANDER.1, BYSTANDER.2, true)
        .await
        .expect("account");
    engine
        .providers()
        .put(
            &tenant_id("bystander"),
            stack.account_credentials(BYSTANDER.0, BYSTANDER.1, BYSTANDER.2),
        )
        .await
        .expect("bystander credentials");
    let (other_webinar, _) = stack.active_webinar(&tenant_id("bystander"), "ev-by").await;
    engine
        .registrations()
        .register(&tenant_id("bystander"), &other_webinar, person(1))
        .await
        .expect("bystander");
    stack
        .wait_all(
            &tenant_id("bystander"),
            &other_webinar,
            1,
            RegistrationStatus::Delivered,
            Duration::from_secs(20),
        )
        .await;
    let later = refused_calls().await;
    assert_eq!(calls, later, "no more calls with refused credentials");
    assert!(calls <= 30, "at most the calls already in flight: {calls}");

    // Wrong credentials put with a check are recorded as NOT_AUTHENTICATED.
    let wrong = engine
        .providers()
        .put(
            &tenant_id("wrong"),
            stack.credentials("definitely-not-the-secret"),
        )
        .await
        .expect("put");
    assert_eq!(wrong.status, CredentialStatus::NotAuthenticated);
}

both_backends!(
    credential_deletion_pauses_and_resumes,
    delete_pauses_and_put_resumes
);
both_backends!(permanent_401_stops_calls, unauthorized_stops_calling);
