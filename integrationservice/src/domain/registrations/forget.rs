//! Forgetting a person in a tenant (GDPR erasure): every registration of their email becomes
//! a FORGOTTEN tombstone with no personal data, their metrics are deleted, jobs still waiting
//! to send them are dropped, and a `forget` job erases them at the provider.

use super::Registrations;
use super::enqueue::feed;
use crate::domain::jobs::{self, JobKind};
use crate::domain::{Email, Error, RegistrationStatus as S, providers as provider_rules};
use crate::ids::{RegistrationId, TenantId};
use crate::store::{changes, metrics, now_ms, outbox, registrations};

impl Registrations<'_> {
    /// Forgets a person in the tenant (GDPR): every registration of the email is scrubbed to a
    /// FORGOTTEN tombstone, their metrics deleted, and a job erases them at the provider.
    /// Returns how many registrations were forgotten.
    pub async fn forget(&self, tenant: &TenantId, email: &Email) -> Result<usize, Error> {
        let email = email.as_str().to_owned();
        let t = tenant.clone();
        let n = self
            .engine
            .store
            .transaction(move |conn| {
                let config = provider_rules::enabled(conn, &t)?;
                let rows = registrations::by_email_all_webinars(conn, &t, &email)?;
                let ids: Vec<RegistrationId> = rows.iter().map(|r| r.registration()).collect();
                registrations::drop_waiting_jobs(conn, &t, &ids)?;
                let now = now_ms();
                let mut feed_rows = Vec::new();
                for mut row in rows.clone() {
                    row.email = format!("forgotten:{}", row.id);
                    row.first_name = String::new();
                    row.last_name = String::new();
                    row.company = None;
                    row.job_title = None;
                    row.crm_reference_id = None;
                    row.extra = "{}".into();
                    row.request_id = None;
                    row.last_error = None;
                    row.status = S::Forgotten.as_str().into();
                    row.updated_at = now;
                    registrations::save(conn, &row)?;
                    feed_rows.push(feed(&row));
                }
                metrics::delete_email(conn, &t, &email)?;
                let payload = serde_json::to_string(&jobs::ForgetPayload {
                    emails: vec![email],
                })
                .map_err(|_| Error::Internal)?;
                let mut forget = outbox::new_job(&t, JobKind::Forget, None, None, Some(payload));
                if provider_rules::is_blocked(&config) {
                    forget.state = outbox::PAUSED.into();
                }
                outbox::enqueue(conn, &[forget])?;
                changes::append(conn, &feed_rows)?;
                Ok::<_, Error>(rows.len())
            })
            .await?;
        self.engine.signals.jobs_added();
        self.engine.signals.changes_added();
        Ok(n)
    }
}
