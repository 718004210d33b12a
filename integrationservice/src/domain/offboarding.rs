//! Tenant offboarding (`PurgeTenant`): when a customer leaves, everything the service holds
//! for the tenant is deleted. Optionally ON24 is first asked to forget every registrant the
//! tenant delivered there (the forget job of `ForgetPerson`, many emails per job), and the
//! purge waits for those jobs; then every row of the tenant is deleted, table by table in
//! bounded batches, ending with the tenant's wrapped keys (`tenant_keys`) and credentials;
//! last, the tenant's own KEK in the key service is scheduled for deletion.
//!
//! That is crypto-shredding: the tenant's keys are data keys wrapped under its KEK, so once
//! the key service has destroyed it (after its deletion waiting period) a database backup
//! taken before the purge still holds them, wrapped, but nothing can open them, nor anything
//! they protect. Until then the deletion can be cancelled at the key service.
//!
//! Callers cut the tenant off (policy) before purging: a write that arrives during the purge
//! may leave a row behind, which a second purge removes.

use std::time::Duration;

use super::jobs::{ForgetPayload, JobKind};
use super::{Engine, Error, TenantId, providers as provider_rules};
use crate::crypto::tenant_kek_id;
use crate::store::tenant_purge::{self as store, TenantTable};
use crate::store::{outbox, providers};

/// Emails per forget job.
const FORGET_CHUNK: usize = 100;

/// What a tenant purge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantPurgeReport {
    /// Registrants ON24 was asked to forget.
    pub forgotten_at_provider: u64,
    /// Forget jobs ON24 refused for good (their people may remain at ON24).
    pub provider_refusals: u64,
    /// Rows deleted, by table (`TenantTable::as_str`), in deletion order.
    pub deleted: Vec<(&'static str, u64)>,
    /// Whether this purge scheduled the deletion of the tenant's KEK (false: the tenant never
    /// had one, or an earlier purge scheduled it).
    pub key_deletion_scheduled: bool,
}

/// Tenant offboarding.
#[derive(Debug, Clone, Copy)]
pub struct Offboarding<'a> {
    pub(crate) engine: &'a Engine,
}

impl Offboarding<'_> {
    /// Purges `tenant`: with `forget_at_provider`, ON24 forgets every delivered registrant
    /// first (waiting up to `wait` for it; UNAVAILABLE when that is not enough, and a repeat
    /// call waits for the same jobs), then every row of the tenant goes.
    pub async fn purge_tenant(
        &self,
        tenant: &TenantId,
        forget_at_provider: bool,
        wait: Duration,
    ) -> Result<TenantPurgeReport, Error> {
        let mut report = TenantPurgeReport::default();
        if forget_at_provider {
            let (queued, refused) = self.forget_at_provider(tenant, wait).await?;
            report.forgotten_at_provider = queued;
            report.provider_refusals = refused;
        }
        let batch = i64::from(self.engine.retention.batch_size.max(1));
        for table in TenantTable::ALL {
            let mut total = 0u64;
            loop {
                let t = tenant.clone();
                let n = self
                    .engine
                    .store
                    .run(move |conn| {
                        store::delete_batch(conn, &t, table, batch).map_err(Error::from)
                    })
                    .await?;
                total += n as u64;
                if n == 0 {
                    break;
                }
            }
            report.deleted.push((table.as_str(), total));
        }
        self.engine.field_ciphers.forget(tenant);
        // After the rows: a purge that fails here (key service unreachable) is repeated, and
        // the repeat finds no rows and schedules the deletion.
        report.key_deletion_scheduled = self
            .engine
            .envelope
            .keys()
            .schedule_key_deletion(
                &tenant_kek_id(tenant.as_str()),
                self.engine.tenant_kek_deletion_waiting,
            )
            .await
            .map_err(crate::crypto::CryptoError::from)?;
        tracing::info!(
            tenant = %tenant,
            forgotten_at_provider = report.forgotten_at_provider,
            provider_refusals = report.provider_refusals,
            deleted = ?report.deleted,
            key_deletion_scheduled = report.key_deletion_scheduled,
            "tenant purged"
        );
        Ok(report)
    }

    /// Queues forget jobs for every delivered registrant not queued yet (their provider id
    /// is cleared in the same transaction, so a repeated call does not queue them again), then
    /// waits for every forget job of the tenant; (emails queued, jobs refused).
    async fn forget_at_provider(
        &self,
        tenant: &TenantId,
        wait: Duration,
    ) -> Result<(u64, u64), Error> {
        let t = tenant.clone();
        let blocked = self
            .engine
            .store
            .run(move |conn| {
                Ok::<_, Error>(match providers::get(conn, &t)? {
                    Some(row) if !row.deleted => provider_rules::is_blocked(&row),
                    _ => true,
                })
            })
            .await?;
        if blocked {
            return Err(Error::IntegrationDisabled {
                tenant: tenant.to_string(),
                reason: "ON24 forget needs working credentials".into(),
            });
        }
        let fields = super::tenant_keys::field_cipher(self.engine, tenant, false).await?;
        let mut queued = 0u64;
        loop {
            let (t, f) = (tenant.clone(), fields.clone());
            let n = self
                .engine
                .store
                .transaction(move |conn| {
                    let page = store::delivered(conn, &f, &t, "", FORGET_CHUNK as i64)?;
                    if page.is_empty() {
                        return Ok::<_, Error>(0);
                    }
                    let ids: Vec<String> = page.iter().map(|(id, _)| id.clone()).collect();
                    let payload = serde_json::to_string(&ForgetPayload::new(
                        &f,
                        &t,
                        page.into_iter().map(|(_, e)| e).collect(),
                        Vec::new(),
                        None,
                    )?)
                    .map_err(|_| Error::Internal)?;
                    let job = outbox::new_job(&t, JobKind::Forget, None, None, Some(payload));
                    outbox::enqueue(conn, &[job])?;
                    store::clear_provider_ids(conn, &t, &ids)?;
                    Ok(ids.len())
                })
                .await?;
            if n == 0 {
                break;
            }
            queued += n as u64;
            self.engine.signals.jobs_added();
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let t = tenant.clone();
            let (left, refused) = self
                .engine
                .store
                .run(move |conn| store::forget_jobs(conn, &t).map_err(Error::from))
                .await?;
            if left == 0 {
                return Ok((queued, u64::try_from(refused).unwrap_or(0)));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Unavailable(
                    "ON24 is still forgetting the tenant's registrants; call again to continue"
                        .into(),
                ));
            }
            // The forget jobs finish in the workers, possibly on another replica: look again.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
