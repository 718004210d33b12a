//! Outbox job kinds and their payloads, shared by the domain (which enqueues) and the
//! workers (which run them).

/// Create the webinar at the provider.
pub const CREATE_EVENT: &str = "create_event";
/// Read a linked webinar's URLs from the provider.
pub const REFRESH_EVENT: &str = "refresh_event";
/// Push webinar changes to the provider.
pub const UPDATE_EVENT: &str = "update_event";
/// Register a person at the provider.
pub const DELIVER_REGISTRATION: &str = "deliver_registration";
/// Push a registration's changed fields.
pub const UPDATE_REGISTRATION: &str = "update_registration";
/// Cancel a registration at the provider.
pub const CANCEL_REGISTRATION: &str = "cancel_registration";
/// Erase people at the provider; payload is `ForgetPayload`.
pub const FORGET: &str = "forget";
/// Pull a webinar's attendee metrics.
pub const SYNC_METRICS: &str = "sync_metrics";

/// Payload of a `forget` job: the emails to erase at the provider. The job row is deleted as
/// soon as the provider confirmed, so the addresses do not outlive the request.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct ForgetPayload {
    /// Normalised emails.
    pub emails: Vec<String>,
}

impl std::fmt::Debug for ForgetPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForgetPayload")
            .field("emails", &self.emails.len())
            .finish()
    }
}
