//! Queries of tenant offboarding (`domain::offboarding`): the registrants a tenant delivered
//! to the provider, how its forget jobs stand, and the bounded deletion of every row the
//! tenant has, table by table.

use crate::crypto::fields::FieldCipher;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::attendee_interactions::dsl as ai;
use super::schema::attendee_metrics::dsl as m;
use super::schema::change_feed_horizons::dsl as h;
use super::schema::changes::dsl as c;
use super::schema::changes_pending::dsl as cp;
use super::schema::erasure_requests::dsl as e;
use super::schema::minimisation_policies::dsl as mp;
use super::schema::outbox_jobs::dsl as j;
use super::schema::provider_configs::dsl as p;
use super::schema::registrations::dsl as r;
use super::schema::retention_policies::dsl as rp;
use super::schema::suppressions::dsl as s;
use super::schema::tenant_keys::dsl as k;
use super::schema::webinars::dsl as w;
use super::status::{JobKind, JobState};
use crate::ids::TenantId;

/// Every table that holds rows of a tenant, in the order offboarding empties them: jobs
/// first (nothing more is delivered), the tenant's keys last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantTable {
    /// `outbox_jobs`.
    OutboxJobs,
    /// `attendee_interactions`.
    AttendeeInteractions,
    /// `attendee_metrics`.
    AttendeeMetrics,
    /// `registrations`.
    Registrations,
    /// `webinars`.
    Webinars,
    /// `changes` and `changes_pending`.
    Changes,
    /// `change_feed_horizons`.
    ChangeFeedHorizons,
    /// `erasure_requests`.
    ErasureRequests,
    /// `suppressions`.
    Suppressions,
    /// `retention_policies`.
    RetentionPolicies,
    /// `minimisation_policies`.
    MinimisationPolicies,
    /// `provider_configs` (the sealed ON24 credentials).
    ProviderConfigs,
    /// `tenant_keys` (the tenant's wrapped keys).
    TenantKeys,
}

impl TenantTable {
    /// Every table, in deletion order.
    pub const ALL: [Self; 13] = [
        Self::OutboxJobs,
        Self::AttendeeInteractions,
        Self::AttendeeMetrics,
        Self::Registrations,
        Self::Webinars,
        Self::Changes,
        Self::ChangeFeedHorizons,
        Self::ErasureRequests,
        Self::Suppressions,
        Self::RetentionPolicies,
        Self::MinimisationPolicies,
        Self::ProviderConfigs,
        Self::TenantKeys,
    ];

    /// The table's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OutboxJobs => "outbox_jobs",
            Self::AttendeeInteractions => "attendee_interactions",
            Self::AttendeeMetrics => "attendee_metrics",
            Self::Registrations => "registrations",
            Self::Webinars => "webinars",
            Self::Changes => "changes",
            Self::ChangeFeedHorizons => "change_feed_horizons",
            Self::ErasureRequests => "erasure_requests",
            Self::Suppressions => "suppressions",
            Self::RetentionPolicies => "retention_policies",
            Self::MinimisationPolicies => "minimisation_policies",
            Self::ProviderConfigs => "provider_configs",
            Self::TenantKeys => "tenant_keys",
        }
    }
}

/// A page of the tenant's registrations the provider holds (delivered: it gave an id), as
/// (id, email) in id order after `after`, the emails opened with the tenant's cipher.
pub(crate) fn delivered(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    after: &str,
    limit: i64,
) -> QueryResult<Vec<(String, String)>> {
    let rows: Vec<(String, Option<String>)> = r::registrations
        .filter(r::tenant.eq(tenant.as_str()))
        .filter(r::eventuserid.is_not_null())
        .filter(r::email.is_not_null())
        .filter(r::id.gt(after))
        .order(r::id.asc())
        .limit(limit)
        .select((r::id, r::email))
        .load(conn)?;
    rows.into_iter()
        .filter_map(|(id, email)| Some((id, email?)))
        .map(|(id, email)| {
            let email =
                super::sealing::open_registration_email(fields, tenant.as_str(), &id, &email)
                    .map_err(crate::crypto::fields::store_error)?;
            Ok((id, email))
        })
        .collect()
}

/// Clears the provider's id of these registrations once their forget is queued, so a
/// repeated purge does not ask again.
pub(crate) fn clear_provider_ids(
    conn: &mut DbConnection,
    tenant: &TenantId,
    ids: &[String],
) -> QueryResult<usize> {
    diesel::update(
        r::registrations
            .filter(r::tenant.eq(tenant.as_str()))
            .filter(r::id.eq_any(ids)),
    )
    .set(r::eventuserid.eq(None::<i64>))
    .execute(conn)
}

/// The tenant's forget jobs: (not finished, failed for good).
pub(crate) fn forget_jobs(conn: &mut DbConnection, tenant: &TenantId) -> QueryResult<(i64, i64)> {
    let states: Vec<String> = j::outbox_jobs
        .filter(j::tenant.eq(tenant.as_str()))
        .filter(j::kind.eq(JobKind::Forget.as_str()))
        .select(j::state)
        .load(conn)?;
    let failed = states
        .iter()
        .filter(|s| s.as_str() == JobState::Failed.as_str())
        .count();
    let n = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
    Ok((n(states.len() - failed), n(failed)))
}

/// Deletes up to `batch` of the tenant's rows of `table`; how many.
pub(crate) fn delete_batch(
    conn: &mut DbConnection,
    tenant: &TenantId,
    table: TenantTable,
    batch: i64,
) -> QueryResult<usize> {
    let t = tenant.as_str();
    match table {
        TenantTable::OutboxJobs => {
            let ids: Vec<i64> = j::outbox_jobs
                .filter(j::tenant.eq(t))
                .select(j::id)
                .limit(batch)
                .load(conn)?;
            diesel::delete(
                j::outbox_jobs
                    .filter(j::tenant.eq(t))
                    .filter(j::id.eq_any(&ids)),
            )
            .execute(conn)
        }
        TenantTable::AttendeeInteractions => {
            super::interactions::delete_batch(conn, tenant, None, batch)
        }
        TenantTable::AttendeeMetrics => {
            let keys: Vec<(String, String)> = m::attendee_metrics
                .filter(m::tenant.eq(t))
                .select((m::webinar_id, m::email_hash))
                .limit(batch)
                .load(conn)?;
            let mut n = 0;
            // Grouped by webinar so each statement stays one indexed delete.
            let mut by_webinar: std::collections::BTreeMap<String, Vec<String>> =
                std::collections::BTreeMap::new();
            for (webinar, key) in keys {
                by_webinar.entry(webinar).or_default().push(key);
            }
            for (webinar, keys) in by_webinar {
                n += diesel::delete(
                    m::attendee_metrics
                        .filter(m::tenant.eq(t))
                        .filter(m::webinar_id.eq(&webinar))
                        .filter(m::email_hash.eq_any(&keys)),
                )
                .execute(conn)?;
            }
            Ok(n)
        }
        TenantTable::Registrations => {
            let ids: Vec<String> = r::registrations
                .filter(r::tenant.eq(t))
                .select(r::id)
                .limit(batch)
                .load(conn)?;
            diesel::delete(
                r::registrations
                    .filter(r::tenant.eq(t))
                    .filter(r::id.eq_any(&ids)),
            )
            .execute(conn)
        }
        TenantTable::Webinars => {
            let ids: Vec<String> = w::webinars
                .filter(w::tenant.eq(t))
                .select(w::id)
                .limit(batch)
                .load(conn)?;
            diesel::delete(
                w::webinars
                    .filter(w::tenant.eq(t))
                    .filter(w::id.eq_any(&ids)),
            )
            .execute(conn)
        }
        TenantTable::Changes => {
            let pending: Vec<i64> = cp::changes_pending
                .filter(cp::tenant.eq(t))
                .select(cp::id)
                .limit(batch)
                .load(conn)?;
            let mut n = diesel::delete(
                cp::changes_pending
                    .filter(cp::tenant.eq(t))
                    .filter(cp::id.eq_any(&pending)),
            )
            .execute(conn)?;
            let seqs: Vec<i64> = c::changes
                .filter(c::tenant.eq(t))
                .select(c::seq)
                .limit(batch)
                .load(conn)?;
            n += diesel::delete(
                c::changes
                    .filter(c::tenant.eq(t))
                    .filter(c::seq.eq_any(&seqs)),
            )
            .execute(conn)?;
            Ok(n)
        }
        TenantTable::ChangeFeedHorizons => {
            diesel::delete(h::change_feed_horizons.filter(h::tenant.eq(t))).execute(conn)
        }
        TenantTable::ErasureRequests => {
            let ids: Vec<String> = e::erasure_requests
                .filter(e::tenant.eq(t))
                .select(e::id)
                .limit(batch)
                .load(conn)?;
            diesel::delete(
                e::erasure_requests
                    .filter(e::tenant.eq(t))
                    .filter(e::id.eq_any(&ids)),
            )
            .execute(conn)
        }
        TenantTable::Suppressions => {
            let hashes: Vec<String> = s::suppressions
                .filter(s::tenant.eq(t))
                .select(s::email_hash)
                .limit(batch)
                .load(conn)?;
            diesel::delete(
                s::suppressions
                    .filter(s::tenant.eq(t))
                    .filter(s::email_hash.eq_any(&hashes)),
            )
            .execute(conn)
        }
        TenantTable::RetentionPolicies => {
            diesel::delete(rp::retention_policies.filter(rp::tenant.eq(t))).execute(conn)
        }
        TenantTable::MinimisationPolicies => {
            diesel::delete(mp::minimisation_policies.filter(mp::tenant.eq(t))).execute(conn)
        }
        TenantTable::ProviderConfigs => {
            diesel::delete(p::provider_configs.filter(p::tenant.eq(t))).execute(conn)
        }
        TenantTable::TenantKeys => {
            diesel::delete(k::tenant_keys.filter(k::tenant.eq(t))).execute(conn)
        }
    }
}

/// Rows the tenant still has in `table` (tests and the offboarding check).
pub fn count(conn: &mut DbConnection, tenant: &TenantId, table: TenantTable) -> QueryResult<i64> {
    let t = tenant.as_str();
    match table {
        TenantTable::OutboxJobs => j::outbox_jobs
            .filter(j::tenant.eq(t))
            .count()
            .get_result(conn),
        TenantTable::AttendeeInteractions => ai::attendee_interactions
            .filter(ai::tenant.eq(t))
            .count()
            .get_result(conn),
        TenantTable::AttendeeMetrics => m::attendee_metrics
            .filter(m::tenant.eq(t))
            .count()
            .get_result(conn),
        TenantTable::Registrations => r::registrations
            .filter(r::tenant.eq(t))
            .count()
            .get_result(conn),
        TenantTable::Webinars => w::webinars.filter(w::tenant.eq(t)).count().get_result(conn),
        TenantTable::Changes => {
            let pending: i64 = cp::changes_pending
                .filter(cp::tenant.eq(t))
                .count()
                .get_result(conn)?;
            let sequenced: i64 = c::changes
                .filter(c::tenant.eq(t))
                .count()
                .get_result(conn)?;
            Ok(pending + sequenced)
        }
        TenantTable::ChangeFeedHorizons => h::change_feed_horizons
            .filter(h::tenant.eq(t))
            .count()
            .get_result(conn),
        TenantTable::ErasureRequests => e::erasure_requests
            .filter(e::tenant.eq(t))
            .count()
            .get_result(conn),
        TenantTable::Suppressions => s::suppressions
            .filter(s::tenant.eq(t))
            .count()
            .get_result(conn),
        TenantTable::RetentionPolicies => rp::retention_policies
            .filter(rp::tenant.eq(t))
            .count()
            .get_result(conn),
        TenantTable::MinimisationPolicies => mp::minimisation_policies
            .filter(mp::tenant.eq(t))
            .count()
            .get_result(conn),
        TenantTable::ProviderConfigs => p::provider_configs
            .filter(p::tenant.eq(t))
            .count()
            .get_result(conn),
        TenantTable::TenantKeys => k::tenant_keys
            .filter(k::tenant.eq(t))
            .count()
            .get_result(conn),
    }
}

#[cfg(test)]
mod tests {
    use super::TenantTable;

    /// Every table of the schema with a `tenant` column is one offboarding empties, so a
    /// table added later cannot keep a purged tenant's rows unnoticed.
    #[test]
    fn every_table_with_a_tenant_column_is_purged() {
        let schema = include_str!("schema.rs");
        let purged: Vec<&str> = TenantTable::ALL.iter().map(|t| t.as_str()).collect();
        let mut missing = Vec::new();
        for block in schema.split("diesel::table! {").skip(1) {
            // The first line that is not a comment or an attribute: `name (keys) {`.
            let name = block
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with("//") && !l.starts_with('#'))
                .and_then(|l| l.split([' ', '(']).next())
                .unwrap_or_default();
            let body = block.split('}').next().unwrap_or_default();
            let has_tenant = body
                .lines()
                .any(|line| line.trim_start().starts_with("tenant ->"));
            // `changes_pending` is emptied with `changes` (one entry of the list).
            if has_tenant && name != "changes_pending" && !purged.contains(&name) {
                missing.push(name.to_owned());
            }
        }
        assert!(missing.is_empty(), "not purged with a tenant: {missing:?}");
        assert!(purged.contains(&"registrations"), "the parse found tables");
    }
}
