//! Queries of data minimisation (`domain::minimisation`): a tenant's policy, and which of a
//! metrics chunk's people the tenant registered for the webinar.

use diesel::prelude::*;

use super::DbConnection;
use super::schema::minimisation_policies::dsl as p;
use super::schema::registrations::dsl as r;
use super::status::RegistrationOrigin;
use crate::ids::{TenantId, WebinarId};

/// A tenant's minimisation policy as stored.
#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = super::schema::minimisation_policies)]
#[diesel(treat_none_as_null = true)]
pub struct MinimisationRow {
    /// The tenant.
    pub tenant: String,
    /// JSON array of the optional fields kept; `None`: every field.
    pub allowed_fields: Option<String>,
    /// Store metrics only of people the CRM registered.
    pub metrics_registered_only: bool,
    /// Last change (ms).
    pub updated_at: i64,
}

/// The tenant's policy, if it set one.
pub(crate) fn get(
    conn: &mut DbConnection,
    tenant: &TenantId,
) -> QueryResult<Option<MinimisationRow>> {
    p::minimisation_policies
        .filter(p::tenant.eq(tenant.as_str()))
        .select(MinimisationRow::as_select())
        .first(conn)
        .optional()
}

/// Stores the tenant's policy.
pub(crate) fn put(conn: &mut DbConnection, row: &MinimisationRow) -> QueryResult<()> {
    let n = diesel::update(p::minimisation_policies.filter(p::tenant.eq(&row.tenant)))
        .set(row)
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(p::minimisation_policies)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// Which of `emails` (normalised) have a registration of the tenant in the webinar.
pub(crate) fn registered(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar: &WebinarId,
    emails: &[String],
) -> QueryResult<Vec<String>> {
    let mut found = Vec::new();
    // Bounded IN lists, below SQLite's older 999-parameter limit.
    for chunk in emails.chunks(500) {
        let rows: Vec<Option<String>> = r::registrations
            .filter(r::tenant.eq(tenant.as_str()))
            .filter(r::webinar_id.eq(webinar.to_string()))
            .filter(r::origin.eq(RegistrationOrigin::Crm.as_str()))
            .filter(r::email.eq_any(chunk))
            .select(r::email)
            .load(conn)?;
        found.extend(rows.into_iter().flatten());
    }
    Ok(found)
}
