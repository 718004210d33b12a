//! Plain Rust types the domain services take and return (the API maps them to protobuf).
//! Times are milliseconds since the Unix epoch.

use std::collections::BTreeMap;

pub use crate::attendee_activity::{AttendeeActivity, AttendeeInteraction, InteractionKind};
use crate::provider::ProviderCredentials;

pub use crate::store::status::{
    Attendance, ChangeKind, CredentialStatus, RegistrationOrigin, RegistrationStatus, WebinarStatus,
};

use super::credentials::{AccessToken, BaseUrl, On24ClientId, Region};
use super::{
    CrmReference, Description, DurationMinutes, Email, EventType, Language, PersonName,
    RegistrantFields, RegistrationId, RegistrationQuestion, RequestId, StartTime, TenantId,
    TimeZone, Title, WebinarId,
};

/// ON24 credentials as put by the CRM, every field checked by its constructor. `Debug`
/// prints no part of the tokens.
#[derive(Clone, Debug)]
pub struct CredentialsInput {
    /// ON24 client id.
    pub client_id: On24ClientId,
    /// `accessTokenKey`.
    pub access_token_key: AccessToken,
    /// `accessTokenSecret`.
    pub access_token_secret: AccessToken,
    /// The region whose API root calls go to.
    pub region: Region,
    /// Explicit API root, overriding the region.
    pub base_url: Option<BaseUrl>,
    /// Check against the provider before answering.
    pub check: bool,
}

impl CredentialsInput {
    /// The credentials as the provider takes them for a call.
    pub fn provider_credentials(&self) -> ProviderCredentials {
        ProviderCredentials {
            client_id: self.client_id.get(),
            region: self.region.as_str().to_owned(),
            base_url: self.base_url.as_ref().map(|u| u.as_str().to_owned()),
            token_key: self.access_token_key.secret().clone(),
            token_secret: self.access_token_secret.secret().clone(),
        }
    }
}

/// A tenant's provider configuration as the CRM may see it (never the secrets).
#[derive(Clone, Debug, PartialEq)]
pub struct ProviderConfig {
    /// Tenant id.
    pub tenant: TenantId,
    /// ON24 client id.
    pub client_id: String,
    /// `NA` or `EU`.
    pub region: String,
    /// Explicit API root, if any.
    pub base_url: Option<String>,
    /// Last four characters of the access token key.
    pub key_last_four: String,
    /// Health at the last call.
    pub status: CredentialStatus,
    /// The provider's message at the last failed call.
    pub status_message: Option<String>,
    /// Last provider call with these credentials.
    pub last_check_at: Option<i64>,
    /// Last metrics pull for the tenant.
    pub last_metrics_at: Option<i64>,
    /// First put.
    pub created_at: i64,
    /// Last put.
    pub updated_at: i64,
}

/// Fields of a webinar to create, each valid by construction.
#[derive(Clone, Debug)]
pub struct WebinarInput {
    /// CRM id of the event or session, unique in the tenant.
    pub crm_reference_id: CrmReference,
    /// Title.
    pub title: Title,
    /// Description.
    pub description: Option<Description>,
    /// Live start.
    pub start_at: StartTime,
    /// Live duration.
    pub duration_minutes: DurationMinutes,
    /// Time zone.
    pub time_zone: TimeZone,
    /// Language code.
    pub language: Language,
    /// Provider event type (empty: account default).
    pub event_type: EventType,
}

/// Optional changes to a webinar.
#[derive(Clone, Debug, Default)]
pub struct WebinarPatch {
    /// New title.
    pub title: Option<Title>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<Description>>,
    /// New start.
    pub start_at: Option<StartTime>,
    /// New duration.
    pub duration_minutes: Option<DurationMinutes>,
    /// New time zone.
    pub time_zone: Option<TimeZone>,
    /// New language code (sent to the provider with the other event fields).
    pub language: Option<Language>,
    /// New CRM reference (local only: the provider never sees it); unique in the tenant.
    pub crm_reference_id: Option<CrmReference>,
}

/// A webinar.
#[derive(Clone, Debug, PartialEq)]
pub struct Webinar {
    /// Tenant id.
    pub tenant: TenantId,
    /// Server-assigned id.
    pub id: WebinarId,
    /// CRM reference.
    pub crm_reference_id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Live start.
    pub start_at: i64,
    /// Live duration.
    pub duration_minutes: i32,
    /// Time zone.
    pub time_zone: String,
    /// Language.
    pub language: String,
    /// Event type.
    pub event_type: String,
    /// Provider event id, once created or linked.
    pub on24_event_id: Option<i64>,
    /// True when linked to an existing provider event.
    pub linked: bool,
    /// Status.
    pub status: WebinarStatus,
    /// Provider message when FAILED.
    pub status_message: Option<String>,
    /// Audience URL.
    pub audience_url: Option<String>,
    /// Reports URL.
    pub report_url: Option<String>,
    /// Preview URL.
    pub preview_url: Option<String>,
    /// Created.
    pub created_at: i64,
    /// Last changed.
    pub updated_at: i64,
    /// The custom questions of the provider's registration page; None until first read.
    pub registration_questions: Option<Vec<RegistrationQuestion>>,
    /// When the questions were last read from the provider.
    pub questions_read_at: Option<i64>,
}

/// A person to register, each field valid by construction.
#[derive(Clone)]
pub struct RegistrationInput {
    /// Email, normalised (registrations are keyed by it).
    pub email: Email,
    /// First name.
    pub first_name: PersonName,
    /// Last name.
    pub last_name: PersonName,
    /// Company (see [`super::organisation_text`]).
    pub company: Option<String>,
    /// Job title (see [`super::organisation_text`]).
    pub job_title: Option<String>,
    /// CRM contact id.
    pub crm_reference_id: Option<CrmReference>,
    /// The other ON24 registrant fields.
    pub fields: RegistrantFields,
    /// Client request id for idempotent retries.
    pub request_id: Option<RequestId>,
}

impl RegistrationInput {
    /// A person with only the required fields.
    pub fn new(email: Email, first_name: PersonName, last_name: PersonName) -> Self {
        Self {
            email,
            first_name,
            last_name,
            company: None,
            job_title: None,
            crm_reference_id: None,
            fields: RegistrantFields::default(),
            request_id: None,
        }
    }
}

impl std::fmt::Debug for RegistrationInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationInput").finish_non_exhaustive()
    }
}

/// A registration and its delivery state.
#[derive(Clone, PartialEq)]
pub struct Registration {
    /// Tenant id.
    pub tenant: TenantId,
    /// Webinar id.
    pub webinar_id: WebinarId,
    /// Server-assigned id.
    pub id: RegistrationId,
    /// Normalised email (empty once forgotten).
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Company.
    pub company: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// CRM contact id.
    pub crm_reference_id: Option<String>,
    /// The other ON24 registrant fields.
    pub fields: RegistrantFields,
    /// Delivery status.
    pub status: RegistrationStatus,
    /// Provider's registrant id once delivered.
    pub eventuserid: Option<i64>,
    /// Attempts for the latest write.
    pub attempts: i32,
    /// Last error (RETRYING) or the permanent reason (FAILED).
    pub last_error: Option<String>,
    /// Next attempt (RETRYING).
    pub next_attempt_at: Option<i64>,
    /// When the provider accepted the latest write.
    pub delivered_at: Option<i64>,
    /// Created.
    pub created_at: i64,
    /// Last changed.
    pub updated_at: i64,
    /// Where the registration started.
    pub origin: RegistrationOrigin,
    /// The attendance outcome.
    pub attendance: Attendance,
}

impl std::fmt::Debug for Registration {
    // Personal data stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("tenant", &self.tenant)
            .field("webinar_id", &self.webinar_id)
            .field("id", &self.id)
            .field("status", &self.status)
            .field("attempts", &self.attempts)
            .field("eventuserid", &self.eventuserid)
            .finish_non_exhaustive()
    }
}

/// Optional changes to a registration.
#[derive(Clone, Default)]
#[allow(missing_debug_implementations)] // personal data: no Debug at all
pub struct RegistrationPatch {
    /// New first name.
    pub first_name: Option<PersonName>,
    /// New last name.
    pub last_name: Option<PersonName>,
    /// New company (empty clears).
    pub company: Option<String>,
    /// New job title (empty clears).
    pub job_title: Option<String>,
    /// The registrant fields to change (merged field by field; an empty value clears).
    pub fields: RegistrantFields,
}

/// One item's outcome in a batch.
#[derive(Clone, Debug)]
pub struct RegisterOutcome {
    /// The registration, or why this item was refused.
    pub result: Result<Registration, super::Error>,
    /// True when this call created it (false: an idempotent repeat).
    pub created: bool,
}

/// A page of results.
#[derive(Clone, Debug)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Token for the next page; empty at the end.
    pub next_page_token: String,
}

/// An attendee's metrics joined to their registration.
#[derive(Clone, Debug, PartialEq)]
pub struct AttendeeMetrics {
    /// Webinar id.
    pub webinar_id: WebinarId,
    /// The registration, when the attendee registered through this service.
    pub registration_id: Option<RegistrationId>,
    /// That registration's CRM contact id, if it has one.
    pub crm_reference_id: Option<String>,
    /// Email.
    pub email: String,
    /// Provider registrant id.
    pub eventuserid: Option<i64>,
    /// What they did in the webinar.
    pub activity: AttendeeActivity,
    /// Percentage of the live duration watched live (0..=100).
    pub attendance_percent: f64,
    /// When these figures were pulled.
    pub updated_at: i64,
}

/// Aggregates of a webinar.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebinarMetrics {
    /// Registrations per status.
    pub registrations_by_status: BTreeMap<String, i64>,
    /// Attendees with any viewing.
    pub attendees: i64,
    /// Attendees with live viewing.
    pub live_attendees: i64,
    /// Attendees with on-demand viewing.
    pub on_demand_attendees: i64,
    /// Sum of live minutes.
    pub total_live_minutes: i64,
    /// Sum of on-demand minutes.
    pub total_archive_minutes: i64,
    /// Mean engagement score of attendees.
    pub average_engagement_score: f64,
    /// Mean attendance percentage of live attendees.
    pub average_live_attendance_percent: f64,
    /// Sum of questions.
    pub questions_asked: i64,
    /// Sum of polls answered.
    pub polls_answered: i64,
    /// Sum of surveys answered.
    pub surveys_answered: i64,
    /// Registrations per attendance outcome (every outcome present, zero included).
    pub registrations_by_attendance: BTreeMap<Attendance, i64>,
    /// Last metrics pull.
    pub last_metrics_at: Option<i64>,
    /// Next scheduled pull (None: none scheduled).
    pub next_metrics_at: Option<i64>,
}

/// One change-feed entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Position; resume after it.
    pub seq: i64,
    /// What changed.
    pub kind: ChangeKind,
    /// The webinar, if any.
    pub webinar_id: Option<WebinarId>,
    /// The registration, if any.
    pub registration_id: Option<RegistrationId>,
    /// When.
    pub created_at: i64,
}

/// What a backfill did.
#[derive(Clone, Debug, Default)]
pub struct BackfillReport {
    /// The webinars linked now, in provider event id order.
    pub linked: Vec<Webinar>,
    /// Past events the provider listed in the range.
    pub found: usize,
    /// Of those, events the tenant had as a webinar already (left as they are).
    pub already_linked: usize,
}

/// What a metrics sync did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Attendees the provider reported.
    pub attendees: usize,
    /// Rows that changed (each appended to the change feed).
    pub changed: usize,
    /// Registrations of origin ON24 created (people who registered through ON24's own
    /// channels), each appended to the change feed.
    pub registrations_imported: usize,
    /// Registrations whose attendance outcome was settled at the end of the sync (UNKNOWN to
    /// an outcome), each appended to the change feed.
    pub attendance_settled: usize,
}
