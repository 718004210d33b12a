//! Outbox jobs as the domain enqueues them: their kinds ([`JobKind`], stored by name) and the
//! payload of the one kind that carries data. The workers run them (`workers::jobs`).

pub use crate::store::status::JobKind;

/// Payload of a `forget` job: the emails to erase at the provider and the registrations the
/// forget covers. The job row is deleted as soon as the provider confirmed, and a job the
/// provider refused for good loses its emails, so the addresses do not outlive the request.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct ForgetPayload {
    /// Normalised emails.
    #[serde(default)]
    pub emails: Vec<String>,
    /// Registrations forgotten locally: the job runs only after every older job of these
    /// (a delivery already running) has finished, so the provider hears the forget last.
    #[serde(default)]
    pub registration_ids: Vec<String>,
    /// The erasure request this job ends (DONE or FAILED).
    #[serde(default)]
    pub erasure_request_id: Option<String>,
}

/// Payload of a `sync_metrics` job the poller queued: the poller's time and whether the pull
/// is in the webinar's long tail (`workers::MetricsSchedule`), where it reads only the
/// attendees active since the last read. A job without one pulls everything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncMetricsPayload {
    /// When the poller queued the pull (ms, the poller's clock).
    pub at: i64,
    /// A long-tail pull, filtered on the attendees' last activity.
    #[serde(default)]
    pub long_tail: bool,
}

impl std::fmt::Debug for ForgetPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForgetPayload")
            .field("emails", &self.emails.len())
            .field("registration_ids", &self.registration_ids.len())
            .finish()
    }
}
