//! Outbox jobs as the domain enqueues them: their kinds ([`JobKind`], stored by name) and the
//! payload of the one kind that carries data. The workers run them (`workers::jobs`).

pub use crate::store::status::JobKind;

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
