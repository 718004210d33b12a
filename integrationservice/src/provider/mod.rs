//! The provider seam: what the domain and the workers need from a webinar platform, as a small
//! object-safe trait. ON24 is the one implementation today (`on24`); another platform is added
//! by implementing `WebinarProvider`, without touching the API or the workers.

pub(crate) mod on24;

use futures::future::BoxFuture;
use secrecy::SecretString;

pub use crate::attendee_activity::{AttendeeActivity, AttendeeInteraction, InteractionKind};
pub(crate) use crate::registrant_fields::RegistrationQuestion;

/// A tenant's credentials for its provider account, decrypted for one use.
#[derive(Clone)]
pub struct ProviderCredentials {
    /// The provider account (ON24's numeric client id).
    pub client_id: u64,
    /// `NA` or `EU` (ON24's data centres).
    pub region: String,
    /// An explicit API root instead of the region's (a simulator, a proxy).
    pub base_url: Option<String>,
    /// ON24 access token key.
    pub token_key: SecretString,
    /// ON24 access token secret.
    pub token_secret: SecretString,
}

impl std::fmt::Debug for ProviderCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderCredentials")
            .field("client_id", &self.client_id)
            .field("region", &self.region)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// What is wrong with a tenant's credentials, as the CRM sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialProblem {
    /// Wrong client id, key or secret (401).
    NotAuthenticated,
    /// The token was deactivated (ON24 disables tokens unused for 60 days).
    TokenExpired,
    /// The account may not do this (403 permission, inactive client, not Elite).
    Forbidden,
}

/// A provider failure, classified for the workers.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ProviderError {
    /// May succeed later (5xx, timeout, connection).
    #[error("retryable {class} error: {message}")]
    Retryable {
        /// Low-cardinality class for metrics.
        class: &'static str,
        /// Safe to show (no secrets).
        message: String,
    },
    /// The account's call budget is spent: slow the tenant down.
    #[error("quota exhausted: {message}")]
    Quota {
        /// The provider's message.
        message: String,
    },
    /// The credentials do not work: stop calling for this tenant until they change.
    #[error("credentials refused: {message}")]
    Credentials {
        /// Which problem.
        problem: CredentialProblem,
        /// The provider's message.
        message: String,
    },
    /// The same request will fail again (validation, not found, precondition).
    #[error("permanent error: {message}")]
    Permanent {
        /// The provider's message.
        message: String,
    },
}

/// A webinar as we ask the provider to create or change it.
#[derive(Clone, Debug)]
pub struct EventSpec {
    /// Title shown to attendees.
    pub title: String,
    /// Live start, milliseconds since the epoch (UTC).
    pub start_at_ms: i64,
    /// Live duration in minutes.
    pub duration_minutes: u32,
    /// Display time zone (IANA name).
    pub time_zone: String,
    /// Language code, e.g. `en`.
    pub language: String,
    /// Provider event type; empty for the account default.
    pub event_type: String,
    /// Description (ON24: `eventAbstract`, sent on creation only); empty for none.
    pub description: String,
    /// A code that is ours alone and names this webinar at the provider (ON24: the campaign
    /// code), so a webinar whose creation answer was lost can be found again instead of being
    /// created twice; empty for none.
    pub marker: String,
}

/// What the provider tells us about a webinar.
#[derive(Clone, Debug, Default)]
pub struct EventInfo {
    /// The provider's event id.
    pub event_id: i64,
    /// Where attendees join.
    pub audience_url: Option<String>,
    /// Where reports are.
    pub report_url: Option<String>,
    /// Where organisers preview.
    pub preview_url: Option<String>,
    /// Live end (for the metrics schedule), milliseconds since the epoch, if known.
    pub live_end_ms: Option<i64>,
    /// Scheduled live start (ON24's `goodafter`), milliseconds since the epoch, if known: a
    /// linked webinar takes its times from it (without them its attendance outcomes could
    /// never settle).
    pub live_start_ms: Option<i64>,
    /// The event's title, time zone and language as the provider holds them (read for a
    /// linked webinar, which has none of its own); None when not read. Boxed: rarely set,
    /// and it would make every job result it travels in larger.
    pub details: Option<Box<EventDetails>>,
}

/// What a linked webinar copies from its provider event besides times and URLs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventDetails {
    /// The title.
    pub title: String,
    /// The time zone shown to attendees (ON24 `displaytimezonecd`).
    pub time_zone: String,
    /// The language code (ON24 `localelanguagecd`).
    pub language: String,
}

impl EventInfo {
    /// The live start (ms) and length (minutes) when the provider gave both ends.
    pub fn live_times(&self) -> Option<(i64, i32)> {
        let (start, end) = (self.live_start_ms?, self.live_end_ms?);
        let minutes = i32::try_from((end - start) / 60_000).ok()?;
        (start > 0 && minutes > 0).then_some((start, minutes))
    }
}

/// One person to register.
#[derive(Clone)]
pub struct RegistrantSpec {
    /// Normalised email (the provider's key within an event).
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Company.
    pub company: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// The CRM's id of the contact (ON24: `extEventUserCd`).
    pub crm_reference_id: Option<String>,
    /// The other registrant fields (ON24's `AddRegistrantForm`).
    pub fields: crate::registrant_fields::RegistrantFields,
}

impl std::fmt::Debug for RegistrantSpec {
    // Personal data stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrantSpec").finish_non_exhaustive()
    }
}

/// One attendee of a webinar as the provider reports them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttendeeReport {
    /// Email (normalised to lower case).
    pub email: String,
    /// Provider's registrant id.
    pub eventuserid: Option<i64>,
    /// What they did in the webinar.
    pub activity: AttendeeActivity,
    /// What they asked, answered, viewed, clicked and earned, item by item, in report order.
    pub interactions: Vec<AttendeeInteraction>,
}

/// One registrant of a webinar as the provider holds them (registered by us or through the
/// provider's own channels: its registration page, a partner link, its emails).
#[derive(Clone, Default, PartialEq)]
pub struct ProviderRegistrant {
    /// Email (normalised to lower case).
    pub email: String,
    /// Provider's registrant id.
    pub eventuserid: Option<i64>,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Company.
    pub company: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// The CRM contact id the provider holds (ON24: `exteventusercd`).
    pub crm_reference_id: Option<String>,
    /// The other registrant fields.
    pub fields: crate::registrant_fields::RegistrantFields,
}

impl std::fmt::Debug for ProviderRegistrant {
    // Personal data stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderRegistrant")
            .field("eventuserid", &self.eventuserid)
            .finish_non_exhaustive()
    }
}

/// A past webinar at the provider, as its event list shows it (for a backfill).
#[derive(Clone, Debug, Default)]
pub struct PastEvent {
    /// Id and URLs.
    pub info: EventInfo,
    /// Title.
    pub title: String,
    /// When the audience may join (the live start), ms since the epoch.
    pub start_ms: i64,
    /// Live length in minutes.
    pub duration_minutes: i32,
    /// The time zone shown to attendees.
    pub time_zone: String,
    /// Language code.
    pub language: String,
    /// Event type code.
    pub event_type: String,
}

/// A window of attendee activity, milliseconds since the epoch, both ends included: an
/// incremental attendee read asks only for the attendees whose last activity falls in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActivityWindow {
    /// Start of the window.
    pub from_ms: i64,
    /// End of the window.
    pub until_ms: i64,
}

/// A webinar platform. Every call takes the tenant's credentials for that one call.
pub trait WebinarProvider: Send + Sync + std::fmt::Debug {
    /// Short name stored with the configuration (`on24`).
    fn name(&self) -> &'static str;
    /// A cheap authenticated read that proves the credentials work.
    fn check_credentials<'a>(
        &'a self,
        c: &'a ProviderCredentials,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;
    /// Creates a webinar.
    fn create_event<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        spec: &'a EventSpec,
    ) -> BoxFuture<'a, Result<EventInfo, ProviderError>>;
    /// Finds the webinar an earlier `create_event` of `spec` made, by `spec.marker`, among
    /// the webinars created since `created_after_ms`; None when there is none. The provider
    /// has no idempotency key, so this is what makes a retried creation safe.
    fn find_event<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        spec: &'a EventSpec,
        created_after_ms: i64,
    ) -> BoxFuture<'a, Result<Option<EventInfo>, ProviderError>>;
    /// Reads a webinar (for linking an existing one).
    fn get_event<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        event_id: i64,
    ) -> BoxFuture<'a, Result<EventInfo, ProviderError>>;
    /// Changes a webinar.
    fn update_event<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        event_id: i64,
        spec: &'a EventSpec,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;
    /// The custom questions of a webinar's registration page that a registration can answer
    /// through the provider's registrant form, in the provider's order (the standard fields,
    /// which `RegistrantSpec` carries by name, are not among them).
    fn registration_questions<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        event_id: i64,
    ) -> BoxFuture<'a, Result<Vec<RegistrationQuestion>, ProviderError>>;
    /// Deletes a webinar.
    fn delete_event<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        event_id: i64,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;
    /// The account's webinars whose live start is within `from_ms..=until_ms` and whose live
    /// broadcast ended by `until_ms`, in event id order.
    fn past_events<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        from_ms: i64,
        until_ms: i64,
    ) -> BoxFuture<'a, Result<Vec<PastEvent>, ProviderError>>;
    /// Registers (upserts by email) a person; returns the provider's registrant id.
    fn register<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        event_id: i64,
        r: &'a RegistrantSpec,
    ) -> BoxFuture<'a, Result<i64, ProviderError>>;
    /// Updates a registrant's details.
    fn update_registrant<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        event_id: i64,
        r: &'a RegistrantSpec,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;
    /// Cancels a registration.
    fn cancel_registrant<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        event_id: i64,
        email: &'a str,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;
    /// Erases people from the account (GDPR).
    fn forget<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        emails: &'a [String],
    ) -> BoxFuture<'a, Result<(), ProviderError>>;
    /// The webinar's registrants registered at or after `since_ms` (all when None), handed
    /// over in chunks of at most `chunk` (at least one) as the list is read, like
    /// [`WebinarProvider::attendee_chunks`]: a 100,000-registrant event is never held whole.
    /// The provider may return some registered shortly before (its date filter is by day):
    /// callers match by email, so a repeat changes nothing.
    fn registrant_chunks<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        event_id: i64,
        since_ms: Option<i64>,
        chunk: usize,
        tx: tokio::sync::mpsc::Sender<Vec<ProviderRegistrant>>,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;
    /// Every attendee of a webinar with their metrics (with `window`: only those whose last
    /// activity falls in it, each with all their figures), handed over in chunks of at most
    /// `chunk` attendees (at least one) as the report is read, so a caller can store a big
    /// webinar's report piece by piece without holding it whole. `tx` is dropped when the
    /// report ends; the result says whether it ended well (chunks already sent stay valid
    /// data either way). A closed receiver stops nothing by itself: drop this future to stop
    /// reading.
    fn attendee_chunks<'a>(
        &'a self,
        c: &'a ProviderCredentials,
        event_id: i64,
        window: Option<ActivityWindow>,
        chunk: usize,
        tx: tokio::sync::mpsc::Sender<Vec<AttendeeReport>>,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;
}
