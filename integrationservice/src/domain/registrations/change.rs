//! Changes to a registration the CRM asks for: new details, or a cancellation.

use super::enqueue::{feed, job};
use super::{Registrations, find, view};
use crate::domain::jobs::JobKind;
use crate::domain::tenant_keys::field_cipher;
use crate::domain::{
    Error, RegistrantFields, Registration, RegistrationPatch, RegistrationStatus as S,
    providers as provider_rules, webinars as webinar_rules,
};
use crate::ids::{RegistrationId, TenantId, WebinarId};
use crate::store::{changes, now_ms, outbox, registrations};

impl Registrations<'_> {
    /// Changes a registration's details; a delivered one is updated at the provider by a job.
    pub async fn update(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
        id: &RegistrationId,
        patch: RegistrationPatch,
    ) -> Result<Registration, Error> {
        let cipher = field_cipher(self.engine, tenant, true).await?;
        let (t, w, i) = (tenant.clone(), *webinar, *id);
        let mut patch = patch;
        let row = self
            .engine
            .store
            .transaction(move |conn| {
                let config = provider_rules::enabled(conn, &t)?;
                // Locks the registration's jobs (rows in the usual order: jobs before the
                // registration) and says whether a worker runs one now.
                let running = outbox::running_for_registration(conn, &t, &i)?;
                crate::domain::minimisation::load(conn, &t)?.strip_patch(&mut patch);
                // An unlinked webinar takes no changes (WEBINAR_UNLINKED).
                webinar_rules::live(conn, &t, &w)?;
                let mut row = find(conn, &cipher, &t, &w, &i)?;
                let status = S::parse(&row.status).unwrap_or(S::Failed);
                if matches!(status, S::Cancelled | S::Forgotten) {
                    return Err(Error::FailedPrecondition(format!(
                        "the registration is {}",
                        status.as_str()
                    )));
                }
                if let Some(v) = patch.first_name {
                    row.first_name = v.into_string();
                }
                if let Some(v) = patch.last_name {
                    row.last_name = v.into_string();
                }
                if let Some(v) = patch.company {
                    row.company = Some(v);
                }
                if let Some(v) = patch.job_title {
                    row.job_title = Some(v);
                }
                let mut fields = RegistrantFields::from_json(&row.extra);
                fields.merge(patch.fields);
                row.extra = fields.to_json();
                let paused = provider_rules::is_blocked(&config);
                // Delivered or failed registrations need a new job. Undelivered ones (or ones
                // whose update is pending) are sent from the latest row by their pending job,
                // unless a worker runs it now: it may have read the row before this change,
                // so the same work runs once more after it (a registration's jobs run in
                // order), or the change would never reach the provider.
                let kind = match status {
                    S::Delivered => Some(JobKind::UpdateRegistration),
                    S::Failed => Some(JobKind::DeliverRegistration),
                    _ => running.filter(|k| {
                        matches!(
                            k,
                            JobKind::DeliverRegistration | JobKind::UpdateRegistration
                        )
                    }),
                };
                if let Some(kind) = kind {
                    row.status = if paused { S::Paused } else { S::Pending }.as_str().into();
                    row.attempts = 0;
                    row.last_error = None;
                    outbox::enqueue(conn, &[job(&row, kind, paused, None)])?;
                }
                row.updated_at = now_ms();
                registrations::save(conn, &cipher, &row)?;
                changes::append(conn, &[feed(&row)])?;
                Ok(row)
            })
            .await?;
        self.engine.signals.jobs_added();
        self.engine.signals.changes_added(tenant);
        Ok(view(&row))
    }

    /// Cancels a registration (soft delete at the provider once delivered).
    pub async fn cancel(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
        id: &RegistrationId,
    ) -> Result<Registration, Error> {
        let cipher = field_cipher(self.engine, tenant, true).await?;
        let (t, w, i) = (tenant.clone(), *webinar, *id);
        let row = self
            .engine
            .store
            .transaction(move |conn| {
                let config = provider_rules::enabled(conn, &t)?;
                let mut row = find(conn, &cipher, &t, &w, &i)?;
                match S::parse(&row.status) {
                    Some(S::Cancelled) => return Ok(row),
                    Some(S::Forgotten) => {
                        return Err(Error::FailedPrecondition(
                            "the registration was forgotten".into(),
                        ));
                    }
                    _ => {}
                }
                row.status = S::Cancelled.as_str().into();
                row.updated_at = now_ms();
                registrations::save(conn, &cipher, &row)?;
                outbox::enqueue(
                    conn,
                    &[job(
                        &row,
                        JobKind::CancelRegistration,
                        provider_rules::is_blocked(&config),
                        None,
                    )],
                )?;
                changes::append(conn, &[feed(&row)])?;
                Ok::<_, Error>(row)
            })
            .await?;
        self.engine.signals.jobs_added();
        self.engine.signals.changes_added(tenant);
        Ok(view(&row))
    }
}
