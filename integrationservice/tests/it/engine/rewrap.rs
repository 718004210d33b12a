//! Key rotation then rewrap: every stored wrapped DEK moves to the new primary version, the
//! credentials still decrypt during and after, deliveries go on, and the database never holds
//! the secrets in clear; tenant keys made under the credentials key (before per-tenant KEKs)
//! move to their tenant's own KEK (and are shredded with it), those already under it stay;
//! at scale, only rows below the primary move, one replica at a time.

use std::time::Duration;

use diesel::prelude::*;
use futures::StreamExt;
use integrationservice::domain::{Error, RegistrationStatus};
use integrationservice::testing::StoreError;
use integrationservice::testing::models::ProviderConfigRow;
use integrationservice::testing::models::TenantKeyRow;
use integrationservice::testing::rewrap_all;
use integrationservice::testing::schema::provider_configs::dsl as p;
use integrationservice::testing::wrapped_version;
use integrationservice::testing::{
    KeyClient, credentials_aad, leases, providers, tenant_kek_id, tenant_key_aad,
};
use proto::keyservice::v1::{
    BatchGenerateDataKeysRequest, GenerateDataKeyRequest, batch_generate_data_keys_result,
    key_service_client::KeyServiceClient,
};
use secrecy::ExposeSecret;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::both_backends;
use crate::engine::harness::{Db, Stack, TOKEN_KEY, TOKEN_SECRET, eventually, person, tenant_id};

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

/// A tenant's suppression-list key as (key version, wrapped key).
async fn tenant_key(stack: &Stack, tenant: &'static str) -> (i32, Vec<u8>) {
    use integrationservice::testing::schema::tenant_keys::dsl as k;
    stack
        .engine
        .store()
        .run(move |conn| {
            k::tenant_keys
                .filter(k::tenant.eq(tenant))
                .select((k::kek_version, k::wrapped_key))
                .first(conn)
                .map_err(StoreError::from)
        })
        .await
        .expect("tenant key")
}

/// A tenant's suppression-list key as (the KEK that wraps it, wrapped key).
async fn tenant_key_kek(stack: &Stack, tenant: &'static str) -> (String, Vec<u8>) {
    use integrationservice::testing::schema::tenant_keys::dsl as k;
    stack
        .engine
        .store()
        .run(move |conn| {
            k::tenant_keys
                .filter(k::tenant.eq(tenant))
                .select((k::kek, k::wrapped_key))
                .first(conn)
                .map_err(StoreError::from)
        })
        .await
        .expect("tenant key")
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
    // Acme forgets a person: its suppression-list key is made under version 1 too.
    let gone = person(99);
    engine
        .registrations()
        .forget(&tenant_id("acme"), &gone.email, false)
        .await
        .expect("forget");
    let key_before = tenant_key(&stack, "acme").await;
    assert_eq!(key_before.0, 1);
    // Globex's key is as a deployment made it before per-tenant KEKs: under the credentials
    // key (`kek` empty).
    let legacy = engine
        .envelope()
        .keys()
        .generate(&tenant_key_aad("globex", "email_hash"))
        .await
        .expect("legacy key");
    let legacy_row = TenantKeyRow {
        tenant: "globex".into(),
        purpose: "email_hash".into(),
        wrapped_key: legacy.wrapped.clone(),
        kek_version: 1,
        created_at: 0,
        kek: String::new(),
    };
    engine
        .store()
        .run(move |conn| {
            diesel::insert_into(integrationservice::testing::schema::tenant_keys::table)
                .values(&legacy_row)
                .execute(conn)
                .map_err(StoreError::from)
        })
        .await
        .expect("legacy row");
    let version = stack.keys.rotate().await;
    assert_eq!(version, 2);
    // Deliveries run while the rewrap happens; none may fail to decrypt.
    engine
        .registrations()
        .register_batch(&tenant_id("acme"), &webinar, (0..30).map(person).collect())
        .await
        .expect("batch");
    let report = rewrap_all(engine.store(), engine.envelope(), "replica-a")
        .await
        .expect("rewrap");
    assert_eq!(report.moved, 3, "the credentials: {report:?}");
    // Globex's key moved to Globex's own KEK: the same key, wrapped anew, so a purge of
    // Globex shreds it too.
    assert_eq!(report.moved_to_tenant_kek, 1, "{report:?}");
    let (legacy_kek, legacy_after) = tenant_key_kek(&stack, "globex").await;
    assert_eq!(legacy_kek, tenant_kek_id("globex"));
    assert_ne!(legacy_after, legacy.wrapped, "the wrapped key changed");
    let opened = engine
        .envelope()
        .keys()
        .unwrap_key(&legacy_after, &tenant_key_aad("globex", "email_hash"))
        .await
        .expect("the moved key opens");
    assert_eq!(opened, legacy.plaintext, "the same key");
    // Scheduling Globex's KEK for deletion now makes that key unopenable: the credentials
    // key no longer opens it.
    assert!(
        engine
            .envelope()
            .keys()
            .schedule_key_deletion(&tenant_kek_id("globex"), None)
            .await
            .expect("schedule")
    );
    let fresh = KeyClient::connect_lazy(&stack.keys.client_config).expect("key client");
    assert!(
        fresh
            .unwrap_key(&legacy_after, &tenant_key_aad("globex", "email_hash"))
            .await
            .is_err(),
        "a shredded tenant's moved key still opens"
    );
    // Acme's key is under its own KEK: the credentials key's rotation leaves it alone.
    assert_eq!(tenant_key(&stack, "acme").await, key_before);
    // Acme's key still opens: the forgotten person is still refused.
    let refused = engine
        .registrations()
        .register(&tenant_id("acme"), &webinar, gone)
        .await
        .expect_err("suppressed");
    assert_eq!(refused, Error::PersonSuppressed);
    assert_eq!(report.primary, 2, "{report:?}");
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
    let again = rewrap_all(engine.store(), engine.envelope(), "replica-a")
        .await
        .expect("rewrap");
    assert_eq!(again.moved, 0);
    assert_eq!(again.current, 0, "rows on the primary are not sent");
}

both_backends!(rotation_then_rewrap, rotate_then_rewrap);

/// Rows in the test at scale: one sixth each under versions 1 and 2 (moved), the rest under
/// version 3, the primary.
const ROWS: usize = 150_000;
/// Rows under versions 1 and 2 together.
const BELOW: usize = ROWS / 3;

/// Audit records of `operation` in the key service's log so far.
fn audited(stack: &Stack, operation: &str) -> usize {
    let needle = format!("\"operation\":\"{operation}\"");
    std::fs::read_to_string(stack.keys.audit_path())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&needle))
        .count()
}

/// Wraps a data key for each tenant (under the current primary) through `BatchGenerateDataKeys`
/// and inserts one live configuration per tenant, the way `put` would store it.
async fn load_version(stack: &Stack, tenants: Vec<String>, version: u32) {
    let rows = wrap_for(stack, &tenants, version).await;
    insert(stack, rows).await;
}

/// Rows under the primary for `tenants`, all sharing one wrapped key: a pass must never send
/// them to the key service, and if it did, the key service would refuse every one of them
/// (their associated data does not match), which the pass would report as skipped.
async fn load_on_primary(stack: &Stack, tenants: Vec<String>, version: u32) {
    let one = wrap_for(stack, &tenants[..1], version).await.remove(0);
    let rows = tenants
        .into_iter()
        .map(|t| config_row(t, one.wrapped_dek.clone(), version))
        .collect();
    insert(stack, rows).await;
}

async fn insert(stack: &Stack, rows: Vec<ProviderConfigRow>) {
    for chunk in rows.chunks(1000) {
        let chunk = chunk.to_vec();
        stack
            .engine
            .store()
            .run(move |conn| providers::insert_many(conn, &chunk).map_err(StoreError::from))
            .await
            .expect("insert");
    }
}

/// Rows whose DEK is wrapped (under the current primary, `version`) for their tenant.
async fn wrap_for(stack: &Stack, tenants: &[String], version: u32) -> Vec<ProviderConfigRow> {
    let config = &stack.keys.client_config;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&config.ca_pem))
        .identity(Identity::from_pem(
            &config.cert_pem,
            config.key_pem.as_bytes(),
        ))
        .domain_name("localhost");
    let channel = Endpoint::from_shared(config.endpoint.clone())
        .expect("endpoint")
        .tls_config(tls)
        .expect("tls")
        .connect()
        .await
        .expect("connect");
    let client = KeyServiceClient::new(channel);
    let chunks: Vec<Vec<String>> = tenants.chunks(100).map(<[String]>::to_vec).collect();
    let rows: Vec<Vec<ProviderConfigRow>> = futures::stream::iter(chunks)
        .map(|chunk| {
            let mut client = client.clone();
            let key_name = config.key_name.clone();
            async move {
                let requests = chunk
                    .iter()
                    .map(|t| GenerateDataKeyRequest {
                        name: key_name.clone(),
                        associated_data: credentials_aad(t, 1),
                    })
                    .collect();
                let results = client
                    .batch_generate_data_keys(BatchGenerateDataKeysRequest { requests })
                    .await
                    .expect("generate")
                    .into_inner()
                    .results;
                chunk
                    .into_iter()
                    .zip(results)
                    .map(|(tenant, r)| match r.result {
                        Some(batch_generate_data_keys_result::Result::Response(r)) => {
                            assert_eq!(wrapped_version(&r.wrapped_key), Some(version));
                            config_row(tenant, r.wrapped_key, version)
                        }
                        other => panic!("generate failed: {other:?}"),
                    })
                    .collect()
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    rows.concat()
}

fn config_row(tenant: String, wrapped_dek: Vec<u8>, version: u32) -> ProviderConfigRow {
    ProviderConfigRow {
        tenant,
        provider: "on24".into(),
        client_id: 1,
        region: "us".into(),
        base_url: None,
        key_hint: "abcd".into(),
        wrapped_dek,
        dek_key_version: i32::try_from(version).expect("version"),
        nonce: vec![0; 12],
        ciphertext: vec![0; 48],
        secret_version: 1,
        status: "unchecked".into(),
        status_message: None,
        last_check_at: None,
        last_metrics_at: None,
        throttle_until: None,
        throttle_level: 0,
        deleted: false,
        created_at: 0,
        updated_at: 0,
    }
}

/// 150,000 credentials across three key versions: one pass moves every row below the primary,
/// sends exactly those to the key service (rows on the primary cost no rewrap), and another
/// replica's pass waits for the lease.
async fn rewrap_at_scale(db: Db) {
    let stack = Stack::start_opt(db, None, Duration::from_secs(10)).await;
    let engine = &stack.engine;
    // Versions interleave in tenant order, so every page mixes them.
    let of_version = |v: usize| -> Vec<String> {
        (0..ROWS)
            .filter(|i| (i % 6).min(2) == v - 1)
            .map(|i| format!("t{i:06}"))
            .collect()
    };
    load_version(&stack, of_version(1), 1).await;
    assert_eq!(stack.keys.rotate().await, 2);
    load_version(&stack, of_version(2), 2).await;
    assert_eq!(stack.keys.rotate().await, 3);
    load_on_primary(&stack, of_version(3), 3).await;

    // Another replica holds the lease: this pass does nothing.
    let store = engine.store().clone();
    let taken = store
        .run(|conn| leases::acquire(conn, "rewrap", "replica-b", 60_000).map_err(StoreError::from))
        .await
        .expect("lease");
    assert!(taken);
    let skipped = rewrap_all(engine.store(), engine.envelope(), "replica-a")
        .await
        .expect("rewrap");
    assert!(
        skipped.leased_elsewhere && skipped.moved == 0,
        "{skipped:?}"
    );
    store
        .run(|conn| leases::release(conn, "rewrap", "replica-b").map_err(StoreError::from))
        .await
        .expect("release");

    let report = rewrap_all(engine.store(), engine.envelope(), "replica-a")
        .await
        .expect("rewrap");
    assert_eq!(report.primary, 3, "{report:?}");
    assert_eq!(report.moved, BELOW, "{report:?}");
    assert_eq!((report.current, report.skipped), (0, 0), "{report:?}");
    let counts = engine
        .store()
        .run(|conn| providers::count_by_key_version(conn).map_err(StoreError::from))
        .await
        .expect("counts");
    assert_eq!(counts, vec![(3, i64::try_from(ROWS).expect("n"))]);
    let wrapped_ok = engine
        .store()
        .run(|conn| {
            p::provider_configs
                .select(p::wrapped_dek)
                .load::<Vec<u8>>(conn)
                .map_err(StoreError::from)
        })
        .await
        .expect("rows")
        .iter()
        .all(|w| wrapped_version(w) == Some(3));
    assert!(
        wrapped_ok,
        "the stored wrapped keys carry the primary version"
    );

    // Exactly the rows below the primary reached RewrapKey; after a second pass (whose
    // primary-version probe is audited after anything it might have rewrapped) no more did.
    eventually(
        "every moved row audited as one rewrap",
        Duration::from_secs(20),
        || async { audited(&stack, "rewrap") == BELOW },
    )
    .await;
    let probes = audited(&stack, "generate");
    let again = rewrap_all(engine.store(), engine.envelope(), "replica-a")
        .await
        .expect("rewrap");
    assert_eq!(again.moved, 0, "{again:?}");
    eventually(
        "the second pass's probe audited",
        Duration::from_secs(20),
        || async { audited(&stack, "generate") > probes },
    )
    .await;
    assert_eq!(audited(&stack, "rewrap"), BELOW);
}

both_backends!(
    rewrap_150k_rows_moves_only_rows_below_primary,
    rewrap_at_scale
);
