//! The one mapping from service errors to gRPC statuses, and the `ErrorInfo` helper.
//!
//! Not found -> NOT_FOUND, unique violation -> ALREADY_EXISTS, integration disabled ->
//! FAILED_PRECONDITION with `ErrorInfo`, pool exhausted or database connection lost (a restart)
//! -> UNAVAILABLE, over a rate limit ->
//! RESOURCE_EXHAUSTED with `RetryInfo`, anything unexpected ->
//! logged with context here and answered as a plain INTERNAL that reveals nothing.

use tonic::{Code, Status};
use tonic_types::StatusExt;

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

/// RESOURCE_EXHAUSTED for a request over its `scope`'s rate limit (`tenant` or `caller`),
/// with `google.rpc.RetryInfo` saying when a token is back and `ErrorInfo` `RATE_LIMITED`.
pub(crate) fn rate_limited(scope: &str, retry_after: std::time::Duration) -> Status {
    let mut details = tonic_types::ErrorDetails::with_retry_info(Some(retry_after));
    details.set_error_info(
        "RATE_LIMITED",
        crate::status::ERROR_DOMAIN,
        [("limit".to_owned(), scope.to_owned())],
    );
    Status::with_error_details(
        Code::ResourceExhausted,
        format!("request rate over the {scope} limit; retry later"),
        details,
    )
}

/// RESOURCE_EXHAUSTED `TOO_MANY_WATCHES`: the tenant has `max` watch streams open already.
pub(crate) fn too_many_watches(max: usize) -> Status {
    error_info_status(
        Code::ResourceExhausted,
        &format!("the tenant has {max} change watches open, the most allowed; close one first"),
        "TOO_MANY_WATCHES",
        &[],
    )
}

/// INVALID_ARGUMENT for a person on the tenant's suppression list: a BadRequest violation of
/// `registration.email` and an `ErrorInfo`, both with reason `PERSON_SUPPRESSED` (a batch
/// item's error and an import report carry the reason).
pub(crate) fn person_suppressed() -> Status {
    const REASON: &str = "PERSON_SUPPRESSED";
    let mut violation = tonic_types::FieldViolation::new(
        "registration.email",
        "PERSON_SUPPRESSED: this person was forgotten in this tenant and has not consented \
         again (UnsuppressPerson lifts it)",
    );
    violation.reason = REASON.into();
    let mut details = tonic_types::ErrorDetails::with_bad_request(vec![violation]);
    details.set_error_info(
        REASON,
        crate::status::ERROR_DOMAIN,
        std::collections::HashMap::new(),
    );
    Status::with_error_details(
        Code::InvalidArgument,
        "invalid field(s): registration.email",
        details,
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
            E::SlowedDown { retry_after_ms } => {
                let wait =
                    std::time::Duration::from_millis(u64::try_from(retry_after_ms).unwrap_or(0));
                let mut details = tonic_types::ErrorDetails::with_retry_info(Some(wait));
                details.set_error_info(
                    "ON24_SLOWED_DOWN",
                    crate::status::ERROR_DOMAIN,
                    std::collections::HashMap::new(),
                );
                Status::with_error_details(
                    Code::ResourceExhausted,
                    "ON24 slowed this tenant down after a quota answer; retry later",
                    details,
                )
            }
            E::RateLimited {
                what,
                retry_after_ms,
            } => {
                let wait =
                    std::time::Duration::from_millis(u64::try_from(retry_after_ms).unwrap_or(0));
                let mut details = tonic_types::ErrorDetails::with_retry_info(Some(wait));
                details.set_error_info(
                    "RATE_LIMITED",
                    crate::status::ERROR_DOMAIN,
                    [("limit".to_owned(), what.to_owned())],
                );
                Status::with_error_details(
                    Code::ResourceExhausted,
                    format!("over the tenant's limit on {what}; retry later"),
                    details,
                )
            }
            E::PersonSuppressed => person_suppressed(),
            E::CursorExpired { window_days } => error_info_status(
                Code::FailedPrecondition,
                &format!(
                    "the cursor is older than the change feed's {window_days}-day window: \
                     entries after it were deleted; start from an empty cursor"
                ),
                "CURSOR_EXPIRED",
                &[("window_days", &window_days.to_string())],
            ),
            // The domain's message is already generic ("database unavailable", ...).
            E::Unavailable(message) => Status::unavailable(message),
            // The domain logged the cause where it happened.
            E::Internal => Status::internal("internal error"),
        }
    }
}
