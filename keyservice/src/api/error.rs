//! The one mapping from domain errors to gRPC statuses. Messages never carry key material;
//! unexpected failures are logged here with their detail and returned as a bare INTERNAL.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::Error;

/// The exact message of every unwrap failure (no oracle: the cause is never told).
pub const CANNOT_UNWRAP: &str = "cannot unwrap";

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidArgument { field, reason } => invalid_field(field, &reason),
            Error::CannotUnwrap => Status::invalid_argument(CANNOT_UNWRAP),
            Error::NotFound(what) => Status::not_found(format!("{what} not found")),
            Error::AlreadyExists(what) => Status::already_exists(format!("{what} already exists")),
            Error::FailedPrecondition(why) => Status::failed_precondition(why),
            Error::ResourceExhausted(why) => Status::resource_exhausted(why),
            Error::Aborted(what) => {
                Status::aborted(format!("concurrent modification of {what}; retry"))
            }
            Error::Unavailable(detail) => {
                tracing::warn!(%detail, "database unavailable");
                Status::unavailable("database unavailable")
            }
            Error::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Status::internal("internal error")
            }
            Error::RootKey(detail) => {
                tracing::error!(%detail, "root key failure");
                Status::internal("internal error")
            }
        }
    }
}

/// INVALID_ARGUMENT naming the field, with a `google.rpc.BadRequest` field violation.
pub fn invalid_field(field: &str, reason: &str) -> Status {
    Status::with_error_details(
        Code::InvalidArgument,
        format!("invalid {field}: {reason}"),
        ErrorDetails::with_bad_request_violation(field, reason),
    )
}

/// The message of the UNAVAILABLE returned when the audit record could not be written.
pub const AUDIT_UNAVAILABLE: &str = "audit log unavailable; operation refused";

/// The audit record could not be written, so the operation is refused (fail closed).
pub fn audit_unavailable() -> Status {
    Status::unavailable(AUDIT_UNAVAILABLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_quiet_messages() {
        let s: Status = Error::CannotUnwrap.into();
        assert_eq!(
            (s.code(), s.message()),
            (Code::InvalidArgument, "cannot unwrap")
        );
        let s: Status = Error::Internal("pool state: secret-ish detail".into()).into();
        assert_eq!((s.code(), s.message()), (Code::Internal, "internal error"));
        let s: Status = Error::InvalidArgument {
            field: "name",
            reason: "bad".into(),
        }
        .into();
        assert_eq!(s.code(), Code::InvalidArgument);
        let details = s.get_error_details();
        let violations = details.bad_request().map(|b| b.field_violations.clone());
        assert_eq!(
            violations.map(|v| v[0].field.clone()).as_deref(),
            Some("name")
        );
    }
}
