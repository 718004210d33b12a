//! Key rotation then rewrap: every stored wrapped DEK moves to the new primary version, the
//! credentials still decrypt during and after, deliveries go on, and the database never holds
//! the secrets in clear.

use std::time::Duration;

use diesel::prelude::*;
use integrationservice::domain::RegistrationStatus;
use integrationservice::testing::StoreError;
use integrationservice::testing::rewrap_all;
use integrationservice::testing::schema::provider_configs::dsl as p;
use integrationservice::testing::wrapped_version;
use secrecy::ExposeSecret;

use crate::both_backends;
use crate::engine::harness::{Db, Stack, TOKEN_KEY, TOKEN_SECRET, person, tenant_id};

async fn stored(stack: &Stack) -> Vec<(String, i32, Vec<u8>, Vec<u8>)> {
    stack
        .engine
        .store()
        .run(|conn| {
            p::provider_configs
                .select((p::tenant, p::dek_key_version, p::wrapped_dek, p::ciphertext))
                .order(p::tenant)
                .load(conn)
                .map_err(StoreError::from)
        })
        .await
        .expect("rows")
}

async fn rotate_then_rewrap(db: Db) {
    let stack = Stack::start(db).await;
    let engine = &stack.engine;
    let tenants = ["acme", "globex", "initech"];
    for t in tenants {
        stack.put_credentials(&tenant_id(t)).await;
    }
    let before = stored(&stack).await;
    assert!(
        before
            .iter()
            .all(|(_, v, w, _)| *v == 1 && wrapped_version(w) == Some(1))
    );
    // Not in clear in the database.
    for (_, _, _, ciphertext) in &before {
        let hay = String::from_utf8_lossy(ciphertext);
        assert!(!hay.contains(TOKEN_SECRET) && !hay.contains(TOKEN_KEY));
    }

    let (webinar, _) = stack.active_webinar(&tenant_id("acme"), "ev-rotate").await;
    let version = stack.keys.rotate().await;
    assert_eq!(version, 2);
    // Deliveries run while the rewrap happens; none may fail to decrypt.
    engine
        .registrations()
        .register_batch(&tenant_id("acme"), &webinar, (0..30).map(person).collect())
        .await
        .expect("batch");
    let report = rewrap_all(engine.store(), engine.envelope())
        .await
        .expect("rewrap");
    assert_eq!(report.moved, 3, "{report:?}");
    let after = stored(&stack).await;
    assert!(
        after
            .iter()
            .all(|(_, v, w, _)| *v == 2 && wrapped_version(w) == Some(2))
    );
    for ((t0, _, w0, c0), (t1, _, w1, c1)) in before.iter().zip(&after) {
        assert_eq!(t0, t1);
        assert_ne!(w0, w1, "the wrapped key changed");
        assert_eq!(c0, c1, "the data key, hence the ciphertext, did not");
    }
    for t in tenants {
        let creds = engine
            .providers()
            .credentials(&tenant_id(t))
            .await
            .expect("decrypts after rewrap");
        assert_eq!(creds.token_secret.expose_secret(), TOKEN_SECRET);
    }
    stack
        .wait_all(
            &tenant_id("acme"),
            &webinar,
            30,
            RegistrationStatus::Delivered,
            Duration::from_secs(30),
        )
        .await;
    // A second pass has nothing to move.
    let again = rewrap_all(engine.store(), engine.envelope())
        .await
        .expect("rewrap");
    assert_eq!(again.moved, 0);
    assert_eq!(again.current, 3);
}

both_backends!(rotation_then_rewrap, rotate_then_rewrap);
