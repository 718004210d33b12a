//! Registrations: register one or a batch (≤ 1,000, a result per item), idempotent by
//! (tenant, webinar, email) plus an optional client request id; get, list with a status
//! filter, update, cancel, and forget a person (erase locally, then at the provider).
//! Each accepted write commits the registration, its outbox job and its feed entry together.
//!
//! - `register.rs`: one person or a batch (PostgreSQL's one-statement path first, the
//!   transactional path for repeats, reactivations and refusals).
//! - `coalesce.rs`: single registrations to one webinar arriving together, written as one
//!   batch.
//! - `change.rs`: update and cancel.
//! - `forget.rs`: erase a person in the tenant.
//! - `queries.rs`: get and list.
//! - `enqueue.rs`: the outbox job and the change-feed entry a write commits with.

mod change;
mod coalesce;
mod enqueue;
mod forget;
mod queries;
mod register;

pub(crate) use coalesce::Coalescer;
pub use forget::Forgotten;

use super::{
    Attendance, Engine, Error, RegistrantFields, Registration, RegistrationOrigin,
    RegistrationStatus as S,
};
use crate::crypto::fields::FieldCipher;
use crate::ids::{RegistrationId, TenantId, WebinarId};
use crate::store::models::RegistrationRow;
use crate::store::{DbConnection, registrations};

/// Largest batch accepted in one call.
pub const MAX_BATCH: usize = 1000;

/// Registration service.
#[derive(Debug)]
pub struct Registrations<'a> {
    pub(crate) engine: &'a Engine,
}

/// Row to domain type.
pub fn view(row: &RegistrationRow) -> Registration {
    Registration {
        tenant: TenantId::from_stored(&row.tenant),
        webinar_id: WebinarId::from_stored(&row.webinar_id),
        id: RegistrationId::from_stored(&row.id),
        email: row.email.clone().unwrap_or_default(),
        first_name: row.first_name.clone(),
        last_name: row.last_name.clone(),
        company: row.company.clone(),
        job_title: row.job_title.clone(),
        crm_reference_id: row.crm_reference_id.clone(),
        fields: RegistrantFields::from_json(&row.extra),
        status: S::parse(&row.status).unwrap_or(S::Failed),
        eventuserid: row.eventuserid,
        attempts: row.attempts,
        last_error: row.last_error.clone(),
        next_attempt_at: row.next_attempt_at,
        delivered_at: row.delivered_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
        origin: RegistrationOrigin::parse(&row.origin).unwrap_or(RegistrationOrigin::Crm),
        attendance: Attendance::parse(&row.attendance).unwrap_or(Attendance::Unknown),
    }
}

/// The registration, or NOT_FOUND naming it.
fn find(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar: &WebinarId,
    id: &RegistrationId,
) -> Result<RegistrationRow, Error> {
    registrations::get(conn, fields, tenant, webinar, id)?.ok_or_else(|| {
        Error::not_found(format!(
            "tenants/{tenant}/webinars/{webinar}/registrations/{id}"
        ))
    })
}
