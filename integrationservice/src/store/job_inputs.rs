//! What a job run reads before calling the provider: its registration, its webinar, whether
//! an older job of the registration is still queued, and the tenant's provider row (the
//! credentials are decrypted from this very row). Read for one job, or for a whole claim in
//! four statements instead of four per job.

use diesel::prelude::*;

use super::DbConnection;
use super::models::{JobRow, ProviderConfigRow, RegistrationRow, WebinarRow};
use super::schema::{
    outbox_jobs::dsl as j, provider_configs::dsl as p, registrations::dsl as r, webinars::dsl as w,
};
use super::status::JobState;
use super::{outbox, providers, registrations, webinars};

/// The rows one job run works on.
pub(crate) struct JobInputs {
    /// The job's registration, if it has one and it exists.
    pub registration: Option<RegistrationRow>,
    /// The job's webinar, unless it was unlinked.
    pub webinar: Option<WebinarRow>,
    /// An older job of the same registration is still queued (this one waits for it).
    pub older_job_pending: bool,
    /// The tenant's provider configuration.
    pub provider: Option<ProviderConfigRow>,
}

impl std::fmt::Debug for JobInputs {
    // The provider row holds the sealed credentials: only say whether rows were found.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobInputs")
            .field("registration", &self.registration.is_some())
            .field("webinar", &self.webinar.is_some())
            .field("older_job_pending", &self.older_job_pending)
            .field("provider", &self.provider.is_some())
            .finish()
    }
}

/// Reads the inputs of one job.
pub(crate) fn read_one(conn: &mut DbConnection, job: &JobRow) -> QueryResult<JobInputs> {
    let tenant = job.tenant_id();
    let older_job_pending = match job.registration() {
        Some(reg) => outbox::older_unfinished(conn, &tenant, &reg, job.id)?,
        None => false,
    };
    let webinar = match job.webinar() {
        Some(w) => webinars::get(conn, &tenant, &w)?,
        None => None,
    };
    let registration = match (job.webinar(), job.registration()) {
        (Some(w), Some(r)) => registrations::get_stored(conn, &tenant, &w, &r)?,
        _ => None,
    };
    let provider = providers::get(conn, &tenant)?;
    Ok(JobInputs {
        registration,
        webinar,
        older_job_pending,
        provider,
    })
}

/// Reads the inputs of every job of one claim in four statements; the claim just leased
/// them, so the rows are as fresh as a read at the start of each run. In the order of `jobs`.
pub(crate) fn read_claimed(
    conn: &mut DbConnection,
    jobs: &[JobRow],
) -> QueryResult<Vec<JobInputs>> {
    let mut tenants: Vec<&str> = jobs.iter().map(|job| job.tenant.as_str()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    let regs: Vec<&str> = jobs
        .iter()
        .filter_map(|job| job.registration_id.as_deref())
        .collect();
    let webinar_ids: Vec<&str> = jobs
        .iter()
        .filter_map(|job| job.webinar_id.as_deref())
        .collect();
    let mut queued: Vec<(i64, String, Option<String>)> = Vec::new();
    let mut registration_rows: Vec<RegistrationRow> = Vec::new();
    // Bounded lists per statement (SQLite's parameter limit).
    for chunk in regs.chunks(400) {
        queued.extend(
            j::outbox_jobs
                .filter(j::tenant.eq_any(&tenants))
                .filter(j::registration_id.eq_any(chunk))
                .filter(j::state.ne(JobState::Failed.as_str()))
                .select((j::id, j::tenant, j::registration_id))
                .load::<(i64, String, Option<String>)>(conn)?,
        );
        registration_rows.extend(
            r::registrations
                .filter(r::tenant.eq_any(&tenants))
                .filter(r::id.eq_any(chunk))
                .select(RegistrationRow::as_select())
                .load(conn)?,
        );
    }
    let mut webinar_rows: Vec<WebinarRow> = Vec::new();
    for chunk in webinar_ids.chunks(400) {
        webinar_rows.extend(
            w::webinars
                .filter(w::tenant.eq_any(&tenants))
                .filter(w::id.eq_any(chunk))
                .filter(w::deleted.eq(false))
                .select(WebinarRow::as_select())
                .load(conn)?,
        );
    }
    let provider_rows: Vec<ProviderConfigRow> = p::provider_configs
        .filter(p::tenant.eq_any(&tenants))
        .select(ProviderConfigRow::as_select())
        .load(conn)?;
    Ok(jobs
        .iter()
        .map(|job| {
            let older_job_pending = job.registration_id.as_ref().is_some_and(|reg| {
                queued.iter().any(|(id, tenant, r)| {
                    *id < job.id && *tenant == job.tenant && r.as_ref() == Some(reg)
                })
            });
            let webinar = job.webinar_id.as_ref().and_then(|wid| {
                webinar_rows
                    .iter()
                    .find(|w| w.tenant == job.tenant && &w.id == wid)
                    .cloned()
            });
            let registration = match (&job.webinar_id, &job.registration_id) {
                (Some(wid), Some(rid)) => registration_rows
                    .iter()
                    .find(|r| r.tenant == job.tenant && &r.webinar_id == wid && &r.id == rid)
                    .cloned(),
                _ => None,
            };
            let provider = provider_rows
                .iter()
                .find(|p| p.tenant == job.tenant)
                .cloned();
            JobInputs {
                registration,
                webinar,
                older_job_pending,
                provider,
            }
        })
        .collect())
}
