//! Row types of the portable schema. Domain code turns them into its own types; secret columns
//! hold only envelope-encrypted bytes, and `Debug` of those rows prints lengths, not bytes.

use diesel::prelude::*;

use super::schema::*;
use crate::ids::{RegistrationId, TenantId, WebinarId};

/// The typed ids of a row's key columns. Stored ids were parsed on the way in, so reading
/// them back does not check them again.
macro_rules! typed_ids {
    ($row:ty { tenant $(, $getter:ident: $column:ident as $id:ident)* $(, ?$opt:ident: $ocolumn:ident as $oid:ident)* }) => {
        impl $row {
            /// The tenant the row belongs to.
            pub fn tenant_id(&self) -> TenantId {
                TenantId::from_stored(&self.tenant)
            }
            $(
                /// The row's id column, typed.
                pub fn $getter(&self) -> $id {
                    $id::from_stored(&self.$column)
                }
            )*
            $(
                /// The row's optional id column, typed.
                pub fn $opt(&self) -> Option<$oid> {
                    self.$ocolumn.as_deref().map($oid::from_stored)
                }
            )*
        }
    };
}

typed_ids!(ProviderConfigRow { tenant });
typed_ids!(WebinarRow {
    tenant,
    webinar: id as WebinarId
});
typed_ids!(RegistrationRow {
    tenant,
    registration: id as RegistrationId,
    webinar: webinar_id as WebinarId
});
typed_ids!(JobRow {
    tenant,
    ?webinar: webinar_id as WebinarId,
    ?registration: registration_id as RegistrationId
});
typed_ids!(MetricsRow {
    tenant,
    webinar: webinar_id as WebinarId
});

/// A tenant's provider configuration, with its credentials envelope-encrypted.
#[derive(Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = provider_configs)]
#[diesel(treat_none_as_null = true)]
pub struct ProviderConfigRow {
    pub tenant: String,
    pub provider: String,
    pub client_id: i64,
    pub region: String,
    pub base_url: Option<String>,
    pub key_hint: String,
    pub wrapped_dek: Vec<u8>,
    pub dek_key_version: i32,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub secret_version: i64,
    pub status: String,
    pub status_message: Option<String>,
    pub last_check_at: Option<i64>,
    pub last_metrics_at: Option<i64>,
    pub throttle_until: Option<i64>,
    pub throttle_level: i32,
    pub deleted: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for ProviderConfigRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfigRow")
            .field("tenant", &self.tenant)
            .field("provider", &self.provider)
            .field("client_id", &self.client_id)
            .field("region", &self.region)
            .field("status", &self.status)
            .field("secret_version", &self.secret_version)
            .field("ciphertext_len", &self.ciphertext.len())
            .field("deleted", &self.deleted)
            .finish_non_exhaustive()
    }
}

/// A webinar the service created at, or linked to, the provider.
#[derive(Clone, Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = webinars)]
#[diesel(treat_none_as_null = true)]
pub struct WebinarRow {
    pub tenant: String,
    pub id: String,
    pub crm_reference_id: String,
    pub request_id: Option<String>,
    pub description: Option<String>,
    pub on24_event_id: Option<i64>,
    pub linked: bool,
    pub title: String,
    pub start_at: i64,
    pub duration_minutes: i32,
    pub time_zone: String,
    pub language: String,
    pub event_type: String,
    pub status: String,
    pub last_error: Option<String>,
    pub audience_url: Option<String>,
    pub report_url: Option<String>,
    pub preview_url: Option<String>,
    pub next_metrics_at: Option<i64>,
    pub last_metrics_at: Option<i64>,
    pub deleted: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One person registered to one webinar, with its delivery state.
#[derive(Clone, Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = registrations)]
#[diesel(treat_none_as_null = true)]
pub struct RegistrationRow {
    pub tenant: String,
    pub id: String,
    pub webinar_id: String,
    /// Normalised address; NULL once the person was forgotten.
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub crm_reference_id: Option<String>,
    /// Other ON24 registrant fields, as a JSON object of strings.
    pub extra: String,
    pub status: String,
    pub eventuserid: Option<i64>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<i64>,
    pub request_id: Option<String>,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An outbox job: work to do at the provider, committed with the row it is about.
#[derive(Clone, Debug, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = outbox_jobs)]
pub struct JobRow {
    pub id: i64,
    pub tenant: String,
    pub kind: String,
    pub webinar_id: Option<String>,
    pub registration_id: Option<String>,
    pub payload: Option<String>,
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_run_at: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub trace_context: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Times a worker leased it (the current lease included): more than one means an earlier
    /// run may have reached the provider without its result being recorded.
    pub claims: i32,
}

/// A job to enqueue.
#[derive(Clone, Debug, Insertable)]
#[diesel(table_name = outbox_jobs)]
pub struct NewJob {
    pub tenant: String,
    pub kind: String,
    pub webinar_id: Option<String>,
    pub registration_id: Option<String>,
    pub payload: Option<String>,
    pub state: String,
    pub attempts: i32,
    pub next_run_at: i64,
    /// W3C `traceparent` of the request that caused the job (delivery spans continue it).
    pub trace_context: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Metrics of one attendee of one webinar, as last pulled from the provider.
#[derive(
    Clone, Debug, PartialEq, Queryable, QueryableByName, Selectable, Insertable, AsChangeset,
)]
#[diesel(table_name = attendee_metrics)]
#[diesel(treat_none_as_null = true)]
pub struct MetricsRow {
    pub tenant: String,
    pub webinar_id: String,
    pub email: String,
    pub eventuserid: Option<i64>,
    pub live_minutes: i64,
    pub archive_minutes: i64,
    pub cumulative_live_minutes: i64,
    pub cumulative_archive_minutes: i64,
    pub engagement_score: f64,
    pub questions_asked: i64,
    pub polls_answered: i64,
    pub surveys_answered: i64,
    pub resources_downloaded: i64,
    /// First and last live viewing activity (ms), as the provider reports them.
    pub first_live_activity_at: Option<i64>,
    pub last_live_activity_at: Option<i64>,
    pub updated_at: i64,
    /// First and last on-demand viewing activity (ms).
    pub first_archive_activity_at: Option<i64>,
    pub last_archive_activity_at: Option<i64>,
}

/// One entry of the change feed.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = changes)]
pub struct ChangeRow {
    pub seq: i64,
    pub tenant: String,
    pub kind: String,
    pub webinar_id: Option<String>,
    pub registration_id: Option<String>,
    pub created_at: i64,
}

/// A change to append.
#[derive(Clone, Debug, Insertable)]
#[diesel(table_name = changes)]
pub struct NewChange {
    pub tenant: String,
    pub kind: String,
    pub webinar_id: Option<String>,
    pub registration_id: Option<String>,
    pub created_at: i64,
}

/// A forget request as stored (`erasure_requests`): counts, state and times, no email.
#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::erasure_requests)]
pub struct ErasureRequestRow {
    pub tenant: String,
    pub id: String,
    /// `ErasureState`'s stored name.
    pub state: String,
    pub failure_reason: Option<String>,
    pub registration_count: i64,
    pub metrics_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the erasure ended (DONE or FAILED at the provider, or locally when nothing was
    /// sent there).
    pub completed_at: Option<i64>,
}
