//! `TenantService`: a tenant's retention policy (`tenants/{tenant}/retentionPolicy`) and its
//! offboarding (`PurgeTenant`, administrators only).

use tonic::{Request, Response, Status};

use proto::webinar::v1::{
    DeletedRows, GetMinimisationPolicyRequest, GetMinimisationPolicyResponse,
    GetRetentionPolicyRequest, GetRetentionPolicyResponse, MinimisationPolicy, PurgeTenantRequest,
    PurgeTenantResponse, RetentionPolicy, UpdateMinimisationPolicyRequest,
    UpdateMinimisationPolicyResponse, UpdateRetentionPolicyRequest, UpdateRetentionPolicyResponse,
    tenant_service_server::TenantService,
};

use super::{State, audit::Access, convert, names, violations::Violations};
use crate::domain::TenantId;
use crate::domain::minimisation::{self, OptionalField};
use crate::domain::retention::{self, Overrides};

/// The periods an update may name, as `update_mask` paths.
const UPDATABLE: [&str; 4] = [
    "registration_days",
    "cancelled_registration_days",
    "unlinked_webinar_days",
    "failed_job_days",
];

/// The proto view of a tenant's policy.
fn policy(tenant: &TenantId, p: &retention::RetentionPolicy) -> RetentionPolicy {
    let days = |d: u32| Some(i32::try_from(d).unwrap_or(i32::MAX));
    let o = p.overrides;
    let overridden_fields = [
        o.registration_days,
        o.cancelled_registration_days,
        o.unlinked_webinar_days,
        o.failed_job_days,
    ]
    .iter()
    .zip(UPDATABLE)
    .filter(|(v, _)| v.is_some())
    .map(|(_, name)| name.to_owned())
    .collect();
    RetentionPolicy {
        name: format!("tenants/{tenant}/retentionPolicy"),
        registration_days: days(p.periods.registration_days),
        cancelled_registration_days: days(p.periods.cancelled_registration_days),
        unlinked_webinar_days: days(p.periods.unlinked_webinar_days),
        failed_job_days: days(p.periods.failed_job_days),
        change_feed_days: days(p.change_feed_days).unwrap_or_default(),
        overridden_fields,
        update_time: p.updated_at.map(convert::ts),
    }
}

/// The tenant's overrides after applying an update's mask to `current`; every refusal named.
fn apply_mask(
    current: Overrides,
    update: &RetentionPolicy,
    paths: &[String],
    v: &mut Violations,
) -> Overrides {
    let mut next = current;
    if paths.is_empty() {
        v.add("update_mask", "required; name the periods to change");
    }
    for path in paths {
        let (slot, value) = match path.as_str() {
            "registration_days" => (&mut next.registration_days, update.registration_days),
            "cancelled_registration_days" => (
                &mut next.cancelled_registration_days,
                update.cancelled_registration_days,
            ),
            "unlinked_webinar_days" => (
                &mut next.unlinked_webinar_days,
                update.unlinked_webinar_days,
            ),
            "failed_job_days" => (&mut next.failed_job_days, update.failed_job_days),
            other => {
                v.add(
                    "update_mask",
                    format!(
                        "`{other}` cannot be updated; allowed: {}",
                        UPDATABLE.join(", ")
                    ),
                );
                continue;
            }
        };
        *slot = match value {
            None => None,
            Some(days) => v.check(
                &format!("retention_policy.{path}"),
                retention::parse_days(i64::from(days)),
            ),
        };
    }
    next
}

/// The proto view of a tenant's minimisation policy.
fn minimisation_view(
    tenant: &TenantId,
    p: &minimisation::MinimisationPolicy,
) -> MinimisationPolicy {
    MinimisationPolicy {
        name: format!("tenants/{tenant}/minimisationPolicy"),
        allowed_fields: OptionalField::all()
            .into_iter()
            .filter(|f| p.keeps(*f))
            .map(|f| f.name().to_owned())
            .collect(),
        metrics_registered_only: p.metrics_registered_only,
        update_time: p.updated_at.map(convert::ts),
    }
}

/// The policy after applying an update's mask to `current`; every refusal named.
fn apply_minimisation_mask(
    current: minimisation::MinimisationPolicy,
    update: &MinimisationPolicy,
    paths: &[String],
    v: &mut Violations,
) -> minimisation::MinimisationPolicy {
    let mut next = current;
    if paths.is_empty() {
        v.add("update_mask", "required; name the fields to change");
    }
    for path in paths {
        match path.as_str() {
            "allowed_fields" => {
                let mut fields = Vec::new();
                for (i, name) in update.allowed_fields.iter().enumerate() {
                    if let Some(f) = v.check(
                        &format!("minimisation_policy.allowed_fields[{i}]"),
                        OptionalField::parse(name),
                    ) && !fields.contains(&f)
                    {
                        fields.push(f);
                    }
                }
                next.allowed_fields = Some(fields);
            }
            "metrics_registered_only" => {
                next.metrics_registered_only = update.metrics_registered_only;
            }
            other => v.add(
                "update_mask",
                format!(
                    "`{other}` cannot be updated; allowed: allowed_fields, metrics_registered_only"
                ),
            ),
        }
    }
    next
}

/// How long `PurgeTenant` waits for ON24's forget before answering UNAVAILABLE: below the
/// server's 60-second request timeout.
const PURGE_WAIT: std::time::Duration = std::time::Duration::from_secs(45);

/// The gRPC service.
#[derive(Debug, Clone)]
pub(crate) struct TenantApi {
    state: State,
}

impl TenantApi {
    /// A service over the shared state.
    pub(crate) fn new(state: State) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl TenantService for TenantApi {
    async fn get_retention_policy(
        &self,
        request: Request<GetRetentionPolicyRequest>,
    ) -> Result<Response<GetRetentionPolicyResponse>, Status> {
        let tenant = self
            .state
            .resolve(
                &request,
                "name",
                &request.get_ref().name,
                names::parse_retention_policy,
            )?
            .tenant;
        let current = self.state.engine.retention().policy(&tenant).await?;
        Ok(Response::new(GetRetentionPolicyResponse {
            retention_policy: Some(policy(&tenant, &current)),
        }))
    }

    async fn update_retention_policy(
        &self,
        request: Request<UpdateRetentionPolicyRequest>,
    ) -> Result<Response<UpdateRetentionPolicyResponse>, Status> {
        let name = request
            .get_ref()
            .retention_policy
            .as_ref()
            .map(|p| p.name.clone())
            .unwrap_or_default();
        let tenant = self
            .state
            .resolve(
                &request,
                "retention_policy.name",
                &name,
                names::parse_retention_policy,
            )?
            .tenant;
        let request = request.into_inner();
        let update = request.retention_policy.unwrap_or_default();
        let paths = request.update_mask.map(|m| m.paths).unwrap_or_default();
        let retention = self.state.engine.retention();
        let current = retention.policy(&tenant).await?;
        let mut v = Violations::new();
        let next = apply_mask(current.overrides, &update, &paths, &mut v);
        v.into_result()?;
        let updated = retention.set_overrides(&tenant, next).await?;
        Ok(Response::new(UpdateRetentionPolicyResponse {
            retention_policy: Some(policy(&tenant, &updated)),
        }))
    }

    async fn get_minimisation_policy(
        &self,
        request: Request<GetMinimisationPolicyRequest>,
    ) -> Result<Response<GetMinimisationPolicyResponse>, Status> {
        let tenant = self
            .state
            .resolve(
                &request,
                "name",
                &request.get_ref().name,
                names::parse_minimisation_policy,
            )?
            .tenant;
        let current = self.state.engine.minimisation().policy(&tenant).await?;
        Ok(Response::new(GetMinimisationPolicyResponse {
            minimisation_policy: Some(minimisation_view(&tenant, &current)),
        }))
    }

    async fn update_minimisation_policy(
        &self,
        request: Request<UpdateMinimisationPolicyRequest>,
    ) -> Result<Response<UpdateMinimisationPolicyResponse>, Status> {
        let name = request
            .get_ref()
            .minimisation_policy
            .as_ref()
            .map(|p| p.name.clone())
            .unwrap_or_default();
        let tenant = self
            .state
            .resolve(
                &request,
                "minimisation_policy.name",
                &name,
                names::parse_minimisation_policy,
            )?
            .tenant;
        let request = request.into_inner();
        let update = request.minimisation_policy.unwrap_or_default();
        let paths = request.update_mask.map(|m| m.paths).unwrap_or_default();
        let engine = self.state.engine.minimisation();
        let current = engine.policy(&tenant).await?;
        let mut v = Violations::new();
        let next = apply_minimisation_mask(current, &update, &paths, &mut v);
        v.into_result()?;
        let updated = engine.set(&tenant, next).await?;
        Ok(Response::new(UpdateMinimisationPolicyResponse {
            minimisation_policy: Some(minimisation_view(&tenant, &updated)),
        }))
    }

    async fn purge_tenant(
        &self,
        request: Request<PurgeTenantRequest>,
    ) -> Result<Response<PurgeTenantResponse>, Status> {
        let tenant = names::parse_tenant(&request.get_ref().name)
            .map_err(|d| super::violations::invalid("name", d))?
            .tenant;
        let principal = self.state.authz.check_admin(&request, tenant.as_str())?;
        tracing::warn!(principal = %principal, tenant = %tenant, "tenant purge requested");
        let result = self
            .state
            .engine
            .offboarding()
            .purge_tenant(&tenant, request.get_ref().forget_at_on24, PURGE_WAIT)
            .await
            .map_err(Status::from);
        // The purge changes every personal row of the tenant: the access audit records who
        // did it and how many rows went (before answering, fail-closed like every such call).
        let access = Access {
            method: "PurgeTenant",
            tenant: &tenant,
            resource: &request.get_ref().name,
        };
        let report = self
            .state
            .audited(&request, access, result, |report| {
                let rows: u64 = report.deleted.iter().map(|(_, count)| *count).sum();
                usize::try_from(rows).unwrap_or(usize::MAX)
            })
            .await?;
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Ok(Response::new(PurgeTenantResponse {
            forgotten_at_on24_count: n(report.forgotten_at_provider),
            on24_refusal_count: n(report.provider_refusals),
            deleted: report
                .deleted
                .iter()
                .map(|(table, count)| DeletedRows {
                    table: (*table).to_owned(),
                    count: n(*count),
                })
                .collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mask_sets_clears_and_refuses_by_name() {
        let current = Overrides {
            failed_job_days: Some(3),
            ..Overrides::default()
        };
        let update = RetentionPolicy {
            registration_days: Some(7),
            ..RetentionPolicy::default()
        };
        let mut v = Violations::new();
        let next = apply_mask(
            current,
            &update,
            &["registration_days".into(), "failed_job_days".into()],
            &mut v,
        );
        assert!(v.into_result().is_ok());
        assert_eq!(next.registration_days, Some(7));
        assert_eq!(
            next.failed_job_days, None,
            "named and unset: back to default"
        );

        let mut v = Violations::new();
        let bad = RetentionPolicy {
            registration_days: Some(-1),
            ..RetentionPolicy::default()
        };
        apply_mask(
            current,
            &bad,
            &["registration_days".into(), "change_feed_days".into()],
            &mut v,
        );
        let fields: Vec<String> = v.into_vec().into_iter().map(|f| f.field).collect();
        assert_eq!(
            fields,
            ["retention_policy.registration_days", "update_mask"],
            "each refusal named"
        );
        let mut v = Violations::new();
        apply_mask(current, &update, &[], &mut v);
        assert!(v.into_result().is_err(), "an empty mask is refused");
    }
}
