//! Retention: how long the service keeps what it holds, and the purge that deletes the rest.
//!
//! A deployment-wide default (`[retention]`) applies to every tenant; a tenant may override
//! each period (`UpdateRetentionPolicy`). Periods are whole days, 0 keeps for ever:
//! - registrations and attendee metrics of a webinar, counted from the webinar's end;
//! - cancelled registrations, counted from the cancellation;
//! - unlinked webinars (with whatever registrations and metrics they still have), counted from
//!   the unlinking;
//! - failed jobs, counted from the failure (finished jobs are deleted when they finish);
//! - change-feed entries, counted from when they were written. This one is the feed's promise
//!   to every tenant and is not overridden per tenant: a cursor older than it is refused
//!   (`Error::CursorExpired`).
//!
//! The purge deletes in bounded batches (`batch_size` rows per statement), reads time from a
//! [`Clock`] so tests can move it, and reports and stores counts only.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use super::{Engine, Error, TenantId, WebinarId};
use crate::store::retention::{self as store, PurgeRunRow, RetentionPolicyRow};

/// One day in milliseconds, the unit of every period.
const DAY_MS: i64 = 86_400_000;

/// The longest period accepted, in days (100 years).
pub const MAX_DAYS: u32 = 36_500;

/// Where the purge reads the time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        crate::store::now_ms()
    }
}

/// A clock that tests set and move.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock reading `now_ms`.
    pub fn at(now_ms: i64) -> Self {
        Self(Arc::new(AtomicI64::new(now_ms)))
    }

    /// Moves the clock forward by whole days.
    pub fn advance_days(&self, days: i64) {
        self.0.fetch_add(days * DAY_MS, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The periods of a retention policy, in days (0: kept for ever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periods {
    /// Registrations and attendee metrics, after the webinar's end.
    pub registration_days: u32,
    /// Cancelled registrations, after the cancellation.
    pub cancelled_registration_days: u32,
    /// Unlinked webinars, after the unlinking.
    pub unlinked_webinar_days: u32,
    /// Failed jobs, after the failure.
    pub failed_job_days: u32,
}

/// The deployment's retention settings (`[retention]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionDefaults {
    /// The periods of tenants without an override.
    pub periods: Periods,
    /// How long change-feed entries are kept, in days (0: for ever); the feed's promise.
    pub change_feed_days: u32,
    /// Rows per delete statement.
    pub batch_size: u32,
}

impl Default for RetentionDefaults {
    fn default() -> Self {
        Self {
            periods: Periods {
                registration_days: 365,
                cancelled_registration_days: 30,
                unlinked_webinar_days: 90,
                failed_job_days: 30,
            },
            change_feed_days: 30,
            batch_size: 500,
        }
    }
}

/// A tenant's policy: the periods in force, and which of them the tenant set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// The periods that apply.
    pub periods: Periods,
    /// The same, `None` where the deployment's default applies.
    pub overrides: Overrides,
    /// The change feed's window (deployment-wide).
    pub change_feed_days: u32,
    /// Last change of the overrides (ms), if any.
    pub updated_at: Option<i64>,
}

/// A tenant's overrides: `None` takes the deployment's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Overrides {
    /// See [`Periods::registration_days`].
    pub registration_days: Option<u32>,
    /// See [`Periods::cancelled_registration_days`].
    pub cancelled_registration_days: Option<u32>,
    /// See [`Periods::unlinked_webinar_days`].
    pub unlinked_webinar_days: Option<u32>,
    /// See [`Periods::failed_job_days`].
    pub failed_job_days: Option<u32>,
}

impl Overrides {
    fn from_row(row: &RetentionPolicyRow) -> Self {
        let days = |v: Option<i32>| v.and_then(|d| u32::try_from(d).ok());
        Self {
            registration_days: days(row.registration_days),
            cancelled_registration_days: days(row.cancelled_registration_days),
            unlinked_webinar_days: days(row.unlinked_webinar_days),
            failed_job_days: days(row.failed_job_days),
        }
    }

    fn to_row(self, tenant: &TenantId, now: i64) -> RetentionPolicyRow {
        let days = |v: Option<u32>| v.map(|d| i32::try_from(d.min(MAX_DAYS)).unwrap_or(i32::MAX));
        RetentionPolicyRow {
            tenant: tenant.to_string(),
            registration_days: days(self.registration_days),
            cancelled_registration_days: days(self.cancelled_registration_days),
            unlinked_webinar_days: days(self.unlinked_webinar_days),
            failed_job_days: days(self.failed_job_days),
            updated_at: now,
        }
    }

    fn over(self, d: Periods) -> Periods {
        Periods {
            registration_days: self.registration_days.unwrap_or(d.registration_days),
            cancelled_registration_days: self
                .cancelled_registration_days
                .unwrap_or(d.cancelled_registration_days),
            unlinked_webinar_days: self
                .unlinked_webinar_days
                .unwrap_or(d.unlinked_webinar_days),
            failed_job_days: self.failed_job_days.unwrap_or(d.failed_job_days),
        }
    }
}

/// A period in days, checked (at most [`MAX_DAYS`]).
pub fn parse_days(value: i64) -> Result<u32, super::Invalid> {
    u32::try_from(value)
        .ok()
        .filter(|d| *d <= MAX_DAYS)
        .ok_or_else(|| super::Invalid::new(format!("must be 0 to {MAX_DAYS} days")))
}

/// What one purge run deleted, by kind. Counts only: nothing about any person, so it may be
/// logged and audited as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PurgeReport {
    /// When the run started (ms, the purge's clock).
    pub started_at: i64,
    /// When it ended (ms, the purge's clock).
    pub finished_at: i64,
    /// Registrations of webinars ended longer ago than their period.
    pub registrations: u64,
    /// Attendee metrics rows of those webinars and of purged unlinked webinars.
    pub attendee_metrics: u64,
    /// Cancelled registrations.
    pub cancelled_registrations: u64,
    /// Unlinked webinars (their registrations are counted above).
    pub webinars: u64,
    /// Failed jobs.
    pub jobs: u64,
    /// Change-feed entries.
    pub changes: u64,
}

impl PurgeReport {
    fn to_row(self) -> PurgeRunRow {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        PurgeRunRow {
            id: uuid::Uuid::new_v4().to_string(),
            started_at: self.started_at,
            finished_at: self.finished_at,
            registrations: n(self.registrations),
            attendee_metrics: n(self.attendee_metrics),
            cancelled_registrations: n(self.cancelled_registrations),
            webinars: n(self.webinars),
            jobs: n(self.jobs),
            changes: n(self.changes),
        }
    }
}

/// Retention policies and the purge.
#[derive(Debug, Clone, Copy)]
pub struct Retention<'a> {
    pub(crate) engine: &'a Engine,
}

fn cutoff(now: i64, days: u32) -> i64 {
    now.saturating_sub(i64::from(days).saturating_mul(DAY_MS))
}

impl Retention<'_> {
    /// The deployment's settings.
    pub fn defaults(&self) -> RetentionDefaults {
        self.engine.retention
    }

    /// The tenant's policy.
    pub async fn policy(&self, tenant: &TenantId) -> Result<RetentionPolicy, Error> {
        let t = tenant.clone();
        let row = self
            .engine
            .store
            .run(move |conn| store::policy(conn, &t).map_err(Error::from))
            .await?;
        Ok(self.policy_of(row.as_ref()))
    }

    fn policy_of(&self, row: Option<&RetentionPolicyRow>) -> RetentionPolicy {
        let defaults = self.engine.retention;
        let overrides = row.map(Overrides::from_row).unwrap_or_default();
        RetentionPolicy {
            periods: overrides.over(defaults.periods),
            overrides,
            change_feed_days: defaults.change_feed_days,
            updated_at: row.map(|r| r.updated_at),
        }
    }

    /// Replaces the tenant's overrides (the API has applied the update mask).
    pub async fn set_overrides(
        &self,
        tenant: &TenantId,
        overrides: Overrides,
    ) -> Result<RetentionPolicy, Error> {
        let row = overrides.to_row(tenant, crate::store::now_ms());
        let stored = row.clone();
        self.engine
            .store
            .run(move |conn| store::put_policy(conn, &stored).map_err(Error::from))
            .await?;
        tracing::info!(tenant = %tenant, "retention policy updated");
        Ok(self.policy_of(Some(&row)))
    }

    /// One purge over every tenant at `clock`'s time: deletes what each policy lets go, in
    /// bounded batches, stores the run's summary and logs its counts.
    pub async fn purge(&self, clock: &dyn Clock) -> Result<PurgeReport, Error> {
        let now = clock.now_ms();
        let mut report = PurgeReport {
            started_at: now,
            ..PurgeReport::default()
        };
        let batch = i64::from(self.engine.retention.batch_size.max(1));
        let store = &self.engine.store;
        let (tenants, overrides) = store
            .run(|conn| {
                let tenants = store::tenants(conn)?;
                let overrides = store::policies(conn)?;
                Ok::<_, Error>((tenants, overrides))
            })
            .await?;
        let overrides: HashMap<String, RetentionPolicyRow> = overrides
            .into_iter()
            .map(|r| (r.tenant.clone(), r))
            .collect();
        for tenant in tenants {
            let periods = self.policy_of(overrides.get(&tenant)).periods;
            let tenant = TenantId::from_stored(&tenant);
            self.purge_tenant(&tenant, periods, now, batch, &mut report)
                .await?;
        }
        if self.engine.retention.change_feed_days > 0 {
            let before = cutoff(now, self.engine.retention.change_feed_days);
            loop {
                let n = store
                    .transaction(move |conn| {
                        store::delete_changes(conn, before, batch, now).map_err(Error::from)
                    })
                    .await?;
                report.changes += n as u64;
                if (n as i64) < batch {
                    break;
                }
            }
        }
        report.finished_at = clock.now_ms();
        let row = report.to_row();
        store
            .run(move |conn| store::record_run(conn, &row).map_err(Error::from))
            .await?;
        tracing::info!(
            registrations = report.registrations,
            attendee_metrics = report.attendee_metrics,
            cancelled_registrations = report.cancelled_registrations,
            webinars = report.webinars,
            jobs = report.jobs,
            changes = report.changes,
            "retention purge done"
        );
        Ok(report)
    }

    async fn purge_tenant(
        &self,
        tenant: &TenantId,
        periods: Periods,
        now: i64,
        batch: i64,
        report: &mut PurgeReport,
    ) -> Result<(), Error> {
        if periods.registration_days > 0 {
            let before = cutoff(now, periods.registration_days);
            let t = tenant.clone();
            let started = self
                .engine
                .store
                .run(move |conn| store::started_before(conn, &t, before).map_err(Error::from))
                .await?;
            for (id, start, minutes) in started {
                let end = start.saturating_add(i64::from(minutes).saturating_mul(60_000));
                if end < before {
                    let (r, m) = self
                        .purge_webinar_people(tenant, &WebinarId::from_stored(&id), batch)
                        .await?;
                    report.registrations += r;
                    report.attendee_metrics += m;
                }
            }
        }
        if periods.cancelled_registration_days > 0 {
            let before = cutoff(now, periods.cancelled_registration_days);
            report.cancelled_registrations += self
                .drain(tenant, batch, move |conn, t| {
                    store::delete_cancelled(conn, t, before, batch)
                })
                .await?;
        }
        if periods.unlinked_webinar_days > 0 {
            let before = cutoff(now, periods.unlinked_webinar_days);
            loop {
                let t = tenant.clone();
                let ids = self
                    .engine
                    .store
                    .run(move |conn| {
                        store::unlinked_before(conn, &t, before, batch).map_err(Error::from)
                    })
                    .await?;
                for id in &ids {
                    let webinar = WebinarId::from_stored(id);
                    let (r, m) = self.purge_webinar_people(tenant, &webinar, batch).await?;
                    report.registrations += r;
                    report.attendee_metrics += m;
                    let t = tenant.clone();
                    report.webinars += self
                        .engine
                        .store
                        .run(move |conn| {
                            store::delete_webinar(conn, &t, &webinar).map_err(Error::from)
                        })
                        .await? as u64;
                }
                if (ids.len() as i64) < batch {
                    break;
                }
            }
        }
        if periods.failed_job_days > 0 {
            let before = cutoff(now, periods.failed_job_days);
            report.jobs += self
                .drain(tenant, batch, move |conn, t| {
                    store::delete_failed_jobs(conn, t, before, batch)
                })
                .await?;
        }
        Ok(())
    }

    /// Deletes a webinar's metrics and registrations in batches: (registrations, metrics).
    async fn purge_webinar_people(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
        batch: i64,
    ) -> Result<(u64, u64), Error> {
        let w = *webinar;
        // Interactions are counted with the metrics: both are the attendee's figures.
        let interactions = self
            .drain(tenant, batch, move |conn, t| {
                store::delete_interactions_of(conn, t, &w, batch)
            })
            .await?;
        let metrics = interactions
            + self
                .drain(tenant, batch, move |conn, t| {
                    store::delete_metrics_of(conn, t, &w, batch)
                })
                .await?;
        let registrations = self
            .drain(tenant, batch, move |conn, t| {
                store::delete_registrations_of(conn, t, &w, batch)
            })
            .await?;
        Ok((registrations, metrics))
    }

    /// Runs one bounded delete until it deletes less than a batch; the total.
    async fn drain<F>(&self, tenant: &TenantId, batch: i64, delete: F) -> Result<u64, Error>
    where
        F: Fn(&mut crate::store::DbConnection, &TenantId) -> diesel::QueryResult<usize>
            + Send
            + Sync
            + Clone
            + 'static,
    {
        let mut total = 0u64;
        loop {
            let (t, f) = (tenant.clone(), delete.clone());
            let n = self
                .engine
                .store
                .run(move |conn| f(conn, &t).map_err(Error::from))
                .await?;
            total += n as u64;
            if (n as i64) < batch {
                return Ok(total);
            }
        }
    }
}
