//! The one mapping from service errors to gRPC statuses, and the `ErrorInfo` helper.
//!
//! Not found -> NOT_FOUND, unique violation -> ALREADY_EXISTS, integration disabled ->
//! FAILED_PRECONDITION with `ErrorInfo`, pool exhausted -> UNAVAILABLE, anything unexpected ->
//! logged with context here and answered as a plain INTERNAL that reveals nothing.

use tonic::{Code, Status};

pub(crate) use crate::status::error_info_status;

/// FAILED_PRECONDITION `INTEGRATION_DISABLED` for `tenant`.
pub(crate) fn integration_disabled(tenant: &str) -> Status {
    error_info_status(
        Code::FailedPrecondition,
        "the ON24 integration is disabled for this tenant: put ON24 credentials to enable it",
        "INTEGRATION_DISABLED",
        &[("tenant", tenant)],
    )
}

/// The one mapping of domain errors to gRPC statuses.
impl From<crate::domain::Error> for Status {
    fn from(error: crate::domain::Error) -> Self {
        use crate::domain::Error as E;
        match error {
            E::Validation { field, message } => super::violations::invalid(&field, message),
            E::NotFound { resource } => Status::not_found(format!("{resource} not found")),
            E::AlreadyExists { resource } => {
                Status::already_exists(format!("{resource} already exists"))
            }
            E::IntegrationDisabled { tenant, .. } => integration_disabled(&tenant),
            E::FailedPrecondition(message) => {
                error_info_status(Code::FailedPrecondition, &message, "INVALID_STATUS", &[])
            }
            E::WebinarUnlinked { resource } => error_info_status(
                Code::FailedPrecondition,
                "the webinar is unlinked: it accepts no more registrations or changes",
                "WEBINAR_UNLINKED",
                &[("resource", &resource)],
            ),
            // The domain's message is already generic ("database unavailable", ...).
            E::Unavailable(message) => Status::unavailable(message),
            // The domain logged the cause where it happened.
            E::Internal => Status::internal("internal error"),
        }
    }
}
