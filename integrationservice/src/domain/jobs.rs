//! Outbox jobs as the domain enqueues them: their kinds ([`JobKind`], stored by name) and the
//! payload of the one kind that carries data. The workers run them (`workers::jobs`).

pub use crate::store::status::JobKind;

/// Payload of a `forget` job: the emails to erase at the provider and the registrations the
/// forget covers. The job row is deleted as soon as the provider confirmed, and a job the
/// provider refused for good loses its emails, so the addresses do not outlive the request.
/// Meanwhile the emails are stored sealed under the tenant's personal-data key, like every
/// other email at rest ([`ForgetPayload::new`], [`ForgetPayload::opened_emails`]).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct ForgetPayload {
    /// Normalised emails, each sealed (clear in payloads written before emails were sealed,
    /// or with encryption off).
    #[serde(default)]
    pub emails: Vec<String>,
    /// Names this payload in the sealed emails' additional authenticated data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_as: Option<String>,
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

impl ForgetPayload {
    /// A payload erasing `emails` (normalised), sealed with the tenant's cipher.
    pub(crate) fn new(
        fields: &crate::crypto::fields::FieldCipher,
        tenant: &crate::ids::TenantId,
        emails: Vec<String>,
        registration_ids: Vec<String>,
        erasure_request_id: Option<String>,
    ) -> Result<Self, super::Error> {
        let sealed_as = uuid::Uuid::now_v7().to_string();
        let emails =
            crate::store::sealing::seal_job_emails(fields, tenant.as_str(), &sealed_as, emails)?;
        Ok(Self {
            emails,
            sealed_as: Some(sealed_as),
            registration_ids,
            erasure_request_id,
        })
    }

    /// The emails in clear, opened with the tenant's cipher.
    pub(crate) fn opened_emails(
        &self,
        fields: &crate::crypto::fields::FieldCipher,
        tenant: &crate::ids::TenantId,
    ) -> Result<Vec<String>, super::Error> {
        let id = self.sealed_as.as_deref().unwrap_or_default();
        Ok(crate::store::sealing::open_job_emails(
            fields,
            tenant.as_str(),
            id,
            &self.emails,
        )?)
    }
}

impl std::fmt::Debug for ForgetPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForgetPayload")
            .field("emails", &self.emails.len())
            .field("registration_ids", &self.registration_ids.len())
            .finish()
    }
}
