//! Queries of data minimisation (`domain::minimisation`): a tenant's policy, and which of a
//! metrics chunk's people the tenant registered for the webinar.

use crate::crypto::fields::FieldCipher;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::minimisation_policies::dsl as p;
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

/// Which of `emails` (normalised) have a registration of the tenant in the webinar (matched
/// by keyed hash, as `registrations::by_emails_stored`).
pub(crate) fn registered(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar: &WebinarId,
    emails: &[String],
) -> QueryResult<Vec<String>> {
    Ok(
        super::registrations::by_emails_stored(conn, fields, tenant, webinar, emails)?
            .into_iter()
            .filter(|r| r.origin == RegistrationOrigin::Crm.as_str())
            .filter_map(|r| r.email)
            .collect(),
    )
}
