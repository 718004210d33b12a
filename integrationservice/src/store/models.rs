//! Row types of the portable schema. Domain code turns them into its own types; secret columns
//! hold only envelope-encrypted bytes, and `Debug` of those rows prints lengths, not bytes.

use diesel::prelude::*;

use super::schema::*;
use crate::attendee_activity::{AttendeeActivity, AttendeeInteraction, InteractionKind};
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
    /// The tenant the row belongs to.
    pub tenant: String,
    /// The provider's short name (`on24`).
    pub provider: String,
    /// ON24 client id.
    pub client_id: i64,
    /// ON24 region (`NA` or `EU`).
    pub region: String,
    /// Explicit ON24 API root, overriding the region.
    pub base_url: Option<String>,
    /// Last four characters of the access token key (the only part shown).
    pub key_hint: String,
    /// The data key, wrapped by the key service.
    pub wrapped_dek: Vec<u8>,
    /// Key-encryption key version that wrapped the data key.
    pub dek_key_version: i32,
    /// AES-GCM nonce of the sealed credentials.
    pub nonce: Vec<u8>,
    /// The sealed access token key and secret.
    pub ciphertext: Vec<u8>,
    /// Version of the sealed credentials, bound into their AAD.
    pub secret_version: i64,
    /// Credential health: UNCHECKED, HEALTHY or why the provider refused them.
    pub status: String,
    /// What the provider said with the last credential check.
    pub status_message: Option<String>,
    /// When the credentials were last checked at the provider (ms).
    pub last_check_at: Option<i64>,
    /// When metrics were last pulled (ms).
    pub last_metrics_at: Option<i64>,
    /// End of the tenant's quota pause (ms), if one is running.
    pub throttle_until: Option<i64>,
    /// Consecutive quota answers; lengthens the next pause.
    pub throttle_level: i32,
    /// Soft-deleted: kept for reads and history, refused for writes.
    pub deleted: bool,
    /// When the row was written (ms since the epoch).
    pub created_at: i64,
    /// When the row last changed (ms since the epoch).
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
    /// The tenant the row belongs to.
    pub tenant: String,
    /// Our webinar id (UUID v7).
    pub id: String,
    /// The CRM's reference, unique among the tenant's live webinars.
    pub crm_reference_id: String,
    /// The client's request id, for idempotent retries.
    pub request_id: Option<String>,
    /// Description, if any.
    pub description: Option<String>,
    /// ON24's event id, once created or linked.
    pub on24_event_id: Option<i64>,
    /// Linked to an existing ON24 event rather than created by us.
    pub linked: bool,
    /// Title, as ON24 shows it.
    pub title: String,
    /// Scheduled start (ms).
    pub start_at: i64,
    /// Scheduled length in minutes.
    pub duration_minutes: i32,
    /// IANA time zone of the event.
    pub time_zone: String,
    /// Language code of the event.
    pub language: String,
    /// ON24 event type.
    pub event_type: String,
    /// PENDING until created at the provider, then ACTIVE, FAILED or UNLINKED.
    pub status: String,
    /// The provider's last refusal or failure, shown to the CRM.
    pub last_error: Option<String>,
    /// Where attendees join.
    pub audience_url: Option<String>,
    /// ON24's report page.
    pub report_url: Option<String>,
    /// The presenter's preview link.
    pub preview_url: Option<String>,
    /// When the poller next pulls metrics (ms); none: never again.
    pub next_metrics_at: Option<i64>,
    /// When metrics were last pulled (ms).
    pub last_metrics_at: Option<i64>,
    /// Attendee activity up to this instant (ms) has been read: long-tail syncs read only
    /// the attendees active after it.
    pub metrics_watermark: Option<i64>,
    /// Soft-deleted: kept for reads and history, refused for writes.
    pub deleted: bool,
    /// When the row was written (ms since the epoch).
    pub created_at: i64,
    /// When the row last changed (ms since the epoch).
    pub updated_at: i64,
    /// The provider's custom registration questions (JSON array), once read.
    pub registration_questions: Option<String>,
    /// When the questions were last read (ms).
    pub questions_read_at: Option<i64>,
}

/// One person registered to one webinar, with its delivery state. `Debug` leaves out every
/// personal field (see the impl below).
#[derive(Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = registrations)]
#[diesel(treat_none_as_null = true)]
pub struct RegistrationRow {
    /// The tenant the row belongs to.
    pub tenant: String,
    /// Our registration id (UUID v7).
    pub id: String,
    /// The webinar registered to.
    pub webinar_id: String,
    /// The person's email, lower case; NULL once the person was forgotten.
    pub email: Option<String>,
    /// First name (personal data).
    pub first_name: String,
    /// Last name (personal data).
    pub last_name: String,
    /// Company (personal data).
    pub company: Option<String>,
    /// Job title (personal data).
    pub job_title: Option<String>,
    /// The CRM's contact id, sent to ON24 as `extEventUserCd`.
    pub crm_reference_id: Option<String>,
    /// Other ON24 registrant fields, as a JSON object of strings.
    pub extra: String,
    /// Delivery state the CRM sees (PENDING, DELIVERED, RETRYING, ...).
    pub status: String,
    /// ON24's registrant id, once known.
    pub eventuserid: Option<i64>,
    /// Provider calls tried so far.
    pub attempts: i32,
    /// The provider's last refusal or failure, shown to the CRM.
    pub last_error: Option<String>,
    /// When the next delivery attempt runs (ms), while retrying.
    pub next_attempt_at: Option<i64>,
    /// The client's request id, for idempotent retries.
    pub request_id: Option<String>,
    /// When ON24 accepted the registration (ms).
    pub delivered_at: Option<i64>,
    /// When the row was written (ms since the epoch).
    pub created_at: i64,
    /// When the row last changed (ms since the epoch).
    pub updated_at: i64,
    /// Where the registration started (`RegistrationOrigin`: CRM or ON24).
    pub origin: String,
    /// The attendance outcome (`Attendance`), set by metrics syncs.
    pub attendance: String,
    /// The keyed hash of the email (HMAC-SHA-256 under the tenant's `email_hash` key, as in
    /// `suppressions`): what lookups and the unique index use, the email itself being
    /// stored sealed. The store sets it when it seals the row; NULL on a row written before
    /// (its email still clear, until the sealing worker) and on a forgotten one.
    pub email_hash: Option<String>,
}

impl std::fmt::Debug for RegistrationRow {
    // Personal data stays out of logs, panics and test failure output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationRow")
            .field("tenant", &self.tenant)
            .field("id", &self.id)
            .field("webinar_id", &self.webinar_id)
            .field("status", &self.status)
            .field("eventuserid", &self.eventuserid)
            .field("attempts", &self.attempts)
            .field("next_attempt_at", &self.next_attempt_at)
            .field("delivered_at", &self.delivered_at)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("origin", &self.origin)
            .field("attendance", &self.attendance)
            .finish_non_exhaustive()
    }
}

/// An outbox job: work to do at the provider, committed with the row it is about.
#[derive(Clone, Debug, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = outbox_jobs)]
pub struct JobRow {
    /// Job id, increasing: the claim and lock order.
    pub id: i64,
    /// The tenant the row belongs to.
    pub tenant: String,
    /// The job kind's stored name (`JobKind`).
    pub kind: String,
    /// The webinar it concerns, if any.
    pub webinar_id: Option<String>,
    /// The registration it concerns, if any.
    pub registration_id: Option<String>,
    /// Kind-specific input (JSON), e.g. the emails a forget erases.
    pub payload: Option<String>,
    /// Where the job is: READY, RUNNING, PAUSED or FAILED.
    pub state: String,
    /// Runs that counted as an attempt.
    pub attempts: i32,
    /// Why the last run failed, if it did.
    pub last_error: Option<String>,
    /// When the job may run next (ms).
    pub next_run_at: i64,
    /// The worker holding the lease.
    pub lease_owner: Option<String>,
    /// When the worker's lease ends (ms).
    pub lease_until: Option<i64>,
    /// W3C `traceparent` of the request that caused it.
    pub trace_context: Option<String>,
    /// When the row was written (ms since the epoch).
    pub created_at: i64,
    /// When the row last changed (ms since the epoch).
    pub updated_at: i64,
    /// Times a worker leased it (the current lease included): more than one means an earlier
    /// run may have reached the provider without its result being recorded.
    pub claims: i32,
}

/// A job to enqueue.
#[derive(Clone, Debug, Insertable)]
#[diesel(table_name = outbox_jobs)]
pub struct NewJob {
    /// The tenant the row belongs to.
    pub tenant: String,
    /// The job kind's stored name (`JobKind`).
    pub kind: String,
    /// The webinar it concerns, if any.
    pub webinar_id: Option<String>,
    /// The registration it concerns, if any.
    pub registration_id: Option<String>,
    /// Kind-specific input (JSON), e.g. the emails a forget erases.
    pub payload: Option<String>,
    /// Where the job is: READY, RUNNING, PAUSED or FAILED.
    pub state: String,
    /// Attempts so far (0 for a new job).
    pub attempts: i32,
    /// When the job may run next (ms).
    pub next_run_at: i64,
    /// W3C `traceparent` of the request that caused the job (delivery spans continue it).
    pub trace_context: Option<String>,
    /// When the row was written (ms since the epoch).
    pub created_at: i64,
    /// When the row last changed (ms since the epoch).
    pub updated_at: i64,
}

/// Metrics of one attendee of one webinar, as last pulled from the provider: the columns of
/// `attendee_metrics`, one per field of [`AttendeeActivity`] (which the rest of the service
/// uses; [`MetricsRow::new`] and [`MetricsRow::activity`] convert).
#[derive(Clone, PartialEq, Queryable, QueryableByName, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = attendee_metrics)]
#[diesel(treat_none_as_null = true)]
pub struct MetricsRow {
    /// The tenant the row belongs to.
    pub tenant: String,
    /// The webinar attended.
    pub webinar_id: String,
    /// The person's email, lower case.
    pub email: String,
    /// ON24's registrant id, once known.
    pub eventuserid: Option<i64>,
    /// Minutes watched live.
    pub live_minutes: i64,
    /// Minutes watched on demand.
    pub archive_minutes: i64,
    /// Live minutes across sessions, as ON24 sums them.
    pub cumulative_live_minutes: i64,
    /// On-demand minutes across sessions.
    pub cumulative_archive_minutes: i64,
    /// ON24's engagement score.
    pub engagement_score: f64,
    /// Questions the attendee asked.
    pub questions_asked: i64,
    /// Polls the attendee answered.
    pub polls_answered: i64,
    /// Surveys the attendee answered.
    pub surveys_answered: i64,
    /// Resources the attendee downloaded.
    pub resources_downloaded: i64,
    /// First and last live viewing activity (ms), as the provider reports them.
    pub first_live_activity_at: Option<i64>,
    /// Last live viewing activity (ms).
    pub last_live_activity_at: Option<i64>,
    /// When the row last changed (ms since the epoch).
    pub updated_at: i64,
    /// First and last on-demand viewing activity (ms).
    pub first_archive_activity_at: Option<i64>,
    /// Last on-demand viewing activity (ms).
    pub last_archive_activity_at: Option<i64>,
    /// The row's key within the webinar: the keyed hash of the email (as in
    /// `registrations`), the email itself being stored sealed; `clear:` + the email on a row
    /// written before emails were sealed (or with encryption off). Set by the store when it
    /// writes the row; empty on a row the service builds.
    pub email_hash: String,
    /// The keyed digest of the attendee's interactions as last stored
    /// ([`FieldCipher::interactions_digest`](crate::crypto::fields::FieldCipher::interactions_digest)):
    /// a sync that computes the same one from the report leaves them unread. None on a row
    /// written before digests (the sync then compares the interactions themselves).
    pub interactions_digest: Option<String>,
}

impl std::fmt::Debug for MetricsRow {
    // The email stays out of logs, panics and test failure output; the figures are not
    // personal on their own.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsRow")
            .field("tenant", &self.tenant)
            .field("webinar_id", &self.webinar_id)
            .field("eventuserid", &self.eventuserid)
            .field("live_minutes", &self.live_minutes)
            .field("archive_minutes", &self.archive_minutes)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

impl MetricsRow {
    /// The row of one attendee's `activity` in a webinar, stamped `now`.
    pub fn new(
        tenant: &TenantId,
        webinar: &WebinarId,
        email: &str,
        eventuserid: Option<i64>,
        activity: &AttendeeActivity,
        now: i64,
    ) -> Self {
        let a = activity.clone();
        Self {
            tenant: tenant.to_string(),
            webinar_id: webinar.to_string(),
            email: email.to_owned(),
            eventuserid,
            live_minutes: a.live_minutes,
            archive_minutes: a.archive_minutes,
            cumulative_live_minutes: a.cumulative_live_minutes,
            cumulative_archive_minutes: a.cumulative_archive_minutes,
            engagement_score: a.engagement_score,
            questions_asked: a.questions_asked,
            polls_answered: a.polls_answered,
            surveys_answered: a.surveys_answered,
            resources_downloaded: a.resources_downloaded,
            first_live_activity_at: a.first_live_activity_at,
            last_live_activity_at: a.last_live_activity_at,
            updated_at: now,
            first_archive_activity_at: a.first_archive_activity_at,
            last_archive_activity_at: a.last_archive_activity_at,
            email_hash: String::new(),
            interactions_digest: None,
        }
    }

    /// What the row says the attendee did.
    pub fn activity(&self) -> AttendeeActivity {
        AttendeeActivity {
            live_minutes: self.live_minutes,
            archive_minutes: self.archive_minutes,
            cumulative_live_minutes: self.cumulative_live_minutes,
            cumulative_archive_minutes: self.cumulative_archive_minutes,
            engagement_score: self.engagement_score,
            questions_asked: self.questions_asked,
            polls_answered: self.polls_answered,
            surveys_answered: self.surveys_answered,
            resources_downloaded: self.resources_downloaded,
            first_live_activity_at: self.first_live_activity_at,
            last_live_activity_at: self.last_live_activity_at,
            first_archive_activity_at: self.first_archive_activity_at,
            last_archive_activity_at: self.last_archive_activity_at,
        }
    }
}

/// One entry of the change feed.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = changes)]
pub struct ChangeRow {
    /// Position in the tenant's feed, in commit order.
    pub seq: i64,
    /// The tenant the row belongs to.
    pub tenant: String,
    /// What changed (`ChangeKind`).
    pub kind: String,
    /// The webinar it concerns, if any.
    pub webinar_id: Option<String>,
    /// The registration it concerns, if any.
    pub registration_id: Option<String>,
    /// When the change was appended (ms).
    pub created_at: i64,
}

/// A change to append.
#[derive(Clone, Debug, Insertable)]
#[diesel(table_name = changes)]
pub struct NewChange {
    /// The tenant the row belongs to.
    pub tenant: String,
    /// What changed (`ChangeKind`).
    pub kind: String,
    /// The webinar it concerns, if any.
    pub webinar_id: Option<String>,
    /// The registration it concerns, if any.
    pub registration_id: Option<String>,
    /// When the change was appended (ms).
    pub created_at: i64,
}

/// A forget request as stored (`erasure_requests`): counts, state and times, no email.
#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::erasure_requests)]
pub struct ErasureRequestRow {
    /// The tenant the request belongs to.
    pub tenant: String,
    /// The request id (UUID v7), the last segment of its resource name.
    pub id: String,
    /// `ErasureState`'s stored name.
    pub state: String,
    /// Why ON24's part failed (FAILED only); never ON24's answer text or the address.
    pub failure_reason: Option<String>,
    /// How many registrations were erased locally.
    pub registration_count: i64,
    /// How many attendee metrics rows were deleted.
    pub metrics_count: i64,
    /// When the request was made (ms).
    pub created_at: i64,
    /// When its state last changed (ms).
    pub updated_at: i64,
    /// When the erasure ended (DONE or FAILED at the provider, or locally when nothing was
    /// sent there).
    pub completed_at: Option<i64>,
    /// The keyed hash of the person's email (as in `suppressions`); None on requests made
    /// before it was kept.
    pub email_hash: Option<String>,
}

/// A tenant's secret for one purpose as stored (`tenant_keys`): a data key wrapped by the key
/// service, never in clear.
#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::tenant_keys)]
pub struct TenantKeyRow {
    /// The tenant the key belongs to.
    pub tenant: String,
    /// What the key is for (`email_hash`, `personal_data`).
    pub purpose: String,
    /// The data key, wrapped by the key service.
    pub wrapped_key: Vec<u8>,
    /// The key service's key version that wrapped it.
    pub kek_version: i32,
    /// When the key was made (ms).
    pub created_at: i64,
    /// The key service key that wraps it: empty for the credentials key, else the tenant's
    /// own KEK id (`crypto::tenant_kek_id`).
    pub kek: String,
}

impl std::fmt::Debug for TenantKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantKeyRow")
            .field("tenant", &self.tenant)
            .field("purpose", &self.purpose)
            .field("kek_version", &self.kek_version)
            .field("kek", &self.kek)
            .finish_non_exhaustive()
    }
}

/// A suppressed person as stored (`suppressions`): the keyed hash of the email, never the
/// email.
#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::suppressions)]
pub struct SuppressionRow {
    /// The tenant whose list holds the person.
    pub tenant: String,
    /// Hex HMAC-SHA-256 of the normalised email under the tenant's `email_hash` key.
    pub email_hash: String,
    /// When the person was suppressed (ms).
    pub created_at: i64,
    /// The erasure request that suppressed them.
    pub erasure_request_id: Option<String>,
}

/// One interaction of an attendee (`attendee_interactions`): personal data, erased by forget.
#[derive(Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = attendee_interactions)]
#[diesel(treat_none_as_null = true)]
pub struct InteractionRow {
    /// The tenant the row belongs to.
    pub tenant: String,
    /// The webinar.
    pub webinar_id: String,
    /// The attendee's email, lower case.
    pub email: String,
    /// The item's place among the attendee's, from 0, in the report's order.
    pub position: i32,
    /// `InteractionKind`'s stored name.
    pub kind: String,
    /// When it happened (ms), if known.
    pub occurred_at: Option<i64>,
    /// The provider's id of the item.
    pub reference: String,
    /// The question, poll or survey question, resource, CTA or certification name.
    pub prompt: String,
    /// The answer, the answers chosen, the CTA's action or the certification result.
    pub response: String,
    /// When the response was given (ms), if known.
    pub responded_at: Option<i64>,
    /// The attendee's key within the webinar: the keyed hash of the email (as in
    /// `attendee_metrics`), the email being stored sealed; set by the store when it writes.
    pub email_hash: String,
}

impl std::fmt::Debug for InteractionRow {
    // Personal data stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InteractionRow")
            .field("position", &self.position)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl InteractionRow {
    /// The row of the attendee's `position`-th interaction.
    pub fn new(
        tenant: &TenantId,
        webinar: &WebinarId,
        email: &str,
        position: usize,
        i: &AttendeeInteraction,
    ) -> Self {
        Self {
            tenant: tenant.to_string(),
            webinar_id: webinar.to_string(),
            email: email.to_owned(),
            position: i32::try_from(position).unwrap_or(i32::MAX),
            kind: i.kind.as_str().to_owned(),
            occurred_at: i.occurred_at,
            reference: i.reference.clone(),
            prompt: i.prompt.clone(),
            response: i.response.clone(),
            responded_at: i.responded_at,
            email_hash: String::new(),
        }
    }

    /// The interaction the row holds (an unknown stored kind reads as a question).
    pub fn interaction(&self) -> AttendeeInteraction {
        AttendeeInteraction {
            kind: InteractionKind::parse(&self.kind).unwrap_or(InteractionKind::Question),
            occurred_at: self.occurred_at,
            reference: self.reference.clone(),
            prompt: self.prompt.clone(),
            response: self.response.clone(),
            responded_at: self.responded_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_leaves_personal_data_out() {
        let registration = RegistrationRow {
            tenant: "acme".into(),
            id: "r1".into(),
            webinar_id: "w1".into(),
            email: Some("ada@example.com".into()),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            company: Some("Analytical Engines".into()),
            job_title: Some("Countess".into()),
            crm_reference_id: Some("contact-7".into()),
            extra: r#"{"city":"London"}"#.into(),
            status: "PENDING".into(),
            eventuserid: None,
            attempts: 0,
            last_error: None,
            next_attempt_at: None,
            request_id: None,
            delivered_at: None,
            created_at: 0,
            updated_at: 0,
            origin: "CRM".into(),
            attendance: "UNKNOWN".into(),
            email_hash: None,
        };
        let shown = format!("{registration:?}");
        for personal in [
            "ada@example.com",
            "Ada",
            "Lovelace",
            "Analytical",
            "Countess",
            "London",
        ] {
            assert!(!shown.contains(personal), "{personal} in {shown}");
        }
        assert!(shown.contains("PENDING"));
        let metrics = MetricsRow {
            tenant: "acme".into(),
            webinar_id: "w1".into(),
            email: "ada@example.com".into(),
            eventuserid: Some(7),
            live_minutes: 5,
            archive_minutes: 0,
            cumulative_live_minutes: 5,
            cumulative_archive_minutes: 0,
            engagement_score: 1.0,
            questions_asked: 0,
            polls_answered: 0,
            surveys_answered: 0,
            resources_downloaded: 0,
            first_live_activity_at: None,
            last_live_activity_at: None,
            updated_at: 0,
            first_archive_activity_at: None,
            last_archive_activity_at: None,
            email_hash: String::new(),
            interactions_digest: None,
        };
        assert!(!format!("{metrics:?}").contains("ada@example.com"));
    }
}
