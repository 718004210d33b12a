//! `TenantService` retention policies over the API: the deployment's defaults, a tenant's
//! overrides through `update_mask` (set, and back to the default), refusals named by field,
//! and no reading or writing of another tenant's policy; `PurgeTenant` for administrators only.

use proto::webinar::v1::{
    GetMinimisationPolicyRequest, GetOn24CredentialsRequest, GetRetentionPolicyRequest,
    MinimisationPolicy, PurgeTenantRequest, PutOn24CredentialsRequest, RetentionPolicy,
    UpdateMinimisationPolicyRequest, UpdateRetentionPolicyRequest,
    provider_config_service_client::ProviderConfigServiceClient,
    tenant_service_client::TenantServiceClient,
};
use tonic::Code;

use super::harness::{assert_bad_field, assert_reason};
use super::lifecycle::FullStack;

const NAME: &str = "tenants/tenant-a/retentionPolicy";

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

async fn policies(database_url: String) {
    let stack = FullStack::start(database_url, |c| {
        c.retention.registration_days = 200;
        c.retention.change_feed_days = 14;
    })
    .await;
    let mut a = TenantServiceClient::new(stack.h.tenant_a().await);
    let get = GetRetentionPolicyRequest { name: NAME.into() };
    let initial = a
        .get_retention_policy(get.clone())
        .await
        .expect("get")
        .into_inner()
        .retention_policy
        .expect("policy");
    assert_eq!(initial.name, NAME);
    assert_eq!(
        initial.registration_days,
        Some(200),
        "the deployment's default"
    );
    assert_eq!(initial.cancelled_registration_days, Some(30));
    assert_eq!(initial.change_feed_days, 14);
    assert!(initial.overridden_fields.is_empty());
    assert!(initial.update_time.is_none());

    let updated = a
        .update_retention_policy(UpdateRetentionPolicyRequest {
            retention_policy: Some(RetentionPolicy {
                name: NAME.into(),
                registration_days: Some(7),
                failed_job_days: Some(0),
                // Not in the mask: ignored.
                unlinked_webinar_days: Some(1),
                ..RetentionPolicy::default()
            }),
            update_mask: mask(&["registration_days", "failed_job_days"]),
        })
        .await
        .expect("update")
        .into_inner()
        .retention_policy
        .expect("policy");
    assert_eq!(updated.registration_days, Some(7));
    assert_eq!(updated.failed_job_days, Some(0));
    assert_eq!(updated.unlinked_webinar_days, Some(90));
    assert_eq!(
        updated.overridden_fields,
        ["registration_days", "failed_job_days"]
    );
    assert!(updated.update_time.is_some());
    let read = a
        .get_retention_policy(get.clone())
        .await
        .expect("get")
        .into_inner()
        .retention_policy
        .expect("policy");
    assert_eq!(read, updated, "stored as answered");

    // Named and unset: back to the default.
    let reset = a
        .update_retention_policy(UpdateRetentionPolicyRequest {
            retention_policy: Some(RetentionPolicy {
                name: NAME.into(),
                ..RetentionPolicy::default()
            }),
            update_mask: mask(&["registration_days"]),
        })
        .await
        .expect("reset")
        .into_inner()
        .retention_policy
        .expect("policy");
    assert_eq!(reset.registration_days, Some(200));
    assert_eq!(reset.overridden_fields, ["failed_job_days"]);

    for (policy, paths, field) in [
        (
            RetentionPolicy {
                name: NAME.into(),
                registration_days: Some(-1),
                ..RetentionPolicy::default()
            },
            vec!["registration_days"],
            "retention_policy.registration_days",
        ),
        (
            RetentionPolicy {
                name: NAME.into(),
                ..RetentionPolicy::default()
            },
            vec!["change_feed_days"],
            "update_mask",
        ),
        (
            RetentionPolicy {
                name: NAME.into(),
                ..RetentionPolicy::default()
            },
            vec![],
            "update_mask",
        ),
        (
            RetentionPolicy {
                name: "tenants/tenant-a/policy".into(),
                ..RetentionPolicy::default()
            },
            vec!["registration_days"],
            "retention_policy.name",
        ),
    ] {
        let status = a
            .update_retention_policy(UpdateRetentionPolicyRequest {
                retention_policy: Some(policy),
                update_mask: mask(&paths),
            })
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_bad_field(&status, field);
    }

    // Tenant B can neither read nor change A's policy.
    let mut b = TenantServiceClient::new(stack.h.tenant_b().await);
    let status = b.get_retention_policy(get).await.expect_err("not B's");
    assert_reason(&status, Code::PermissionDenied, "TENANT_MISMATCH");
    let status = b
        .update_retention_policy(UpdateRetentionPolicyRequest {
            retention_policy: Some(RetentionPolicy {
                name: NAME.into(),
                registration_days: Some(1),
                ..RetentionPolicy::default()
            }),
            update_mask: mask(&["registration_days"]),
        })
        .await
        .expect_err("not B's");
    assert_reason(&status, Code::PermissionDenied, "TENANT_MISMATCH");
    stack.stop().await;
}

crate::api_both_backends!(retention_policies, policies);

/// `PurgeTenant` is for administrators only, deny by default: the tenant's own CRM, another
/// tenant's and an administrator of another tenant are refused before anything is deleted;
/// the tenant's administrator purges it.
async fn purge_needs_an_administrator(database_url: String) {
    let stack = FullStack::start(database_url, |_| {}).await;
    let mut crm = ProviderConfigServiceClient::new(stack.h.tenant_a().await);
    crm.put_on24_credentials(PutOn24CredentialsRequest {
        on24_credentials: Some(stack.credentials()),
        live_check: false,
        validate_only: false,
    })
    .await
    .expect("credentials");
    let purge = |tenant: &str| PurgeTenantRequest {
        name: format!("tenants/{tenant}"),
        forget_at_on24: false,
    };
    for channel in [stack.h.tenant_a().await, stack.h.tenant_b().await] {
        let status = TenantServiceClient::new(channel)
            .purge_tenant(purge("tenant-a"))
            .await
            .expect_err("not an administrator");
        assert_reason(&status, Code::PermissionDenied, "ADMIN_REQUIRED");
    }
    let mut admin = TenantServiceClient::new(stack.h.admin_a().await);
    let status = admin
        .purge_tenant(purge("tenant-b"))
        .await
        .expect_err("not B's administrator");
    assert_reason(&status, Code::PermissionDenied, "ADMIN_REQUIRED");
    crm.get_on24_credentials(GetOn24CredentialsRequest {
        name: "tenants/tenant-a/on24Credentials".into(),
    })
    .await
    .expect("nothing was deleted");

    let done = admin
        .purge_tenant(purge("tenant-a"))
        .await
        .expect("purged")
        .into_inner();
    let credentials = done
        .deleted
        .iter()
        .find(|d| d.table == "provider_configs")
        .expect("credentials row counted");
    assert_eq!(credentials.count, 1);
    let status = crm
        .get_on24_credentials(GetOn24CredentialsRequest {
            name: "tenants/tenant-a/on24Credentials".into(),
        })
        .await
        .expect_err("gone");
    assert_eq!(status.code(), Code::NotFound);
    stack.stop().await;
}

crate::api_both_backends!(purge_tenant_admin_only, purge_needs_an_administrator);

/// The minimisation policy over the API: by default every optional field is kept; an update
/// names its fields in the mask, an unknown field name is refused by its index, and another
/// tenant cannot read it.
async fn minimisation_policy(database_url: String) {
    let stack = FullStack::start(database_url, |_| {}).await;
    let name = "tenants/tenant-a/minimisationPolicy";
    let mut a = TenantServiceClient::new(stack.h.tenant_a().await);
    let get = GetMinimisationPolicyRequest { name: name.into() };
    let initial = a
        .get_minimisation_policy(get.clone())
        .await
        .expect("get")
        .into_inner()
        .minimisation_policy
        .expect("policy");
    assert!(
        initial.allowed_fields.len() > 20,
        "{:?}",
        initial.allowed_fields
    );
    assert!(initial.allowed_fields.iter().any(|f| f == "std10"));
    assert!(!initial.metrics_registered_only);
    let updated = a
        .update_minimisation_policy(UpdateMinimisationPolicyRequest {
            minimisation_policy: Some(MinimisationPolicy {
                name: name.into(),
                allowed_fields: vec!["company".into(), "city".into()],
                metrics_registered_only: true,
                update_time: None,
            }),
            update_mask: mask(&["allowed_fields"]),
        })
        .await
        .expect("update")
        .into_inner()
        .minimisation_policy
        .expect("policy");
    assert_eq!(updated.allowed_fields, ["company", "city"]);
    assert!(!updated.metrics_registered_only, "not in the mask");
    let status = a
        .update_minimisation_policy(UpdateMinimisationPolicyRequest {
            minimisation_policy: Some(MinimisationPolicy {
                name: name.into(),
                allowed_fields: vec!["company".into(), "email".into()],
                ..MinimisationPolicy::default()
            }),
            update_mask: mask(&["allowed_fields"]),
        })
        .await
        .expect_err("email is not optional");
    assert_bad_field(&status, "minimisation_policy.allowed_fields[1]");
    let mut b = TenantServiceClient::new(stack.h.tenant_b().await);
    let status = b.get_minimisation_policy(get).await.expect_err("not B's");
    assert_reason(&status, Code::PermissionDenied, "TENANT_MISMATCH");
    stack.stop().await;
}

crate::api_both_backends!(minimisation_policies, minimisation_policy);
