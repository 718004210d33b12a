//! What can go wrong in a call, sorted into the few kinds a script or a person acts on, each
//! with a documented process exit code, and the server's error details (`BadRequest` field
//! violations, `ErrorInfo` reason) kept so messages can say what to fix.

use std::fmt;

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The client's own configuration is unusable (missing file, bad endpoint).
    #[error("{0}")]
    Config(String),
    /// The input given to the client is invalid before anything was sent.
    #[error("{0}")]
    Input(String),
    /// The server answered with an error status.
    #[error("{}", describe(.0))]
    Status(Box<Status>),
}

impl From<Status> for ClientError {
    fn from(status: Status) -> Self {
        Self::Status(Box::new(status))
    }
}

/// The kinds of failure, one exit code each (see [`exit_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Unexpected; exit code 1.
    Other,
    /// Bad command line or client configuration; exit code 2.
    Usage,
    /// The resource does not exist; exit code 3.
    NotFound,
    /// Invalid input, or it conflicts with what exists; exit code 4.
    InvalidInput,
    /// Not authenticated or not allowed; exit code 5.
    Auth,
    /// The service could not be reached or timed out; exit code 6. Safe to retry.
    Unavailable,
    /// The request is valid but the state does not allow it (e.g. integration disabled);
    /// exit code 7.
    FailedPrecondition,
}

/// The process exit code of each kind: 0 ok, 1 other, 2 usage, 3 not found, 4 invalid input,
/// 5 permission/authentication, 6 unavailable, 7 failed precondition (8 is used by
/// `webinarctl import` for "finished, some rows refused").
pub fn exit_code(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::Other => 1,
        ErrorKind::Usage => 2,
        ErrorKind::NotFound => 3,
        ErrorKind::InvalidInput => 4,
        ErrorKind::Auth => 5,
        ErrorKind::Unavailable => 6,
        ErrorKind::FailedPrecondition => 7,
    }
}

impl ClientError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Config(_) => ErrorKind::Usage,
            Self::Input(_) => ErrorKind::InvalidInput,
            Self::Status(status) => kind_of(status.code()),
        }
    }

    /// The gRPC status, if the server answered.
    pub fn status(&self) -> Option<&Status> {
        match self {
            Self::Status(status) => Some(status),
            _ => None,
        }
    }

    /// The gRPC code, if the server answered.
    pub fn code(&self) -> Option<Code> {
        self.status().map(Status::code)
    }

    /// `(field, description)` of every `google.rpc.BadRequest` field violation.
    pub fn field_violations(&self) -> Vec<(String, String)> {
        self.status()
            .and_then(|s| s.get_details_bad_request())
            .map(|bad| {
                bad.field_violations
                    .into_iter()
                    .map(|v| (v.field, v.description))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The `google.rpc.ErrorInfo` reason (e.g. `INTEGRATION_DISABLED`), if any.
    pub fn reason(&self) -> Option<String> {
        self.status()
            .and_then(|s| s.get_details_error_info())
            .map(|info| info.reason)
            .filter(|r| !r.is_empty())
    }

    /// A JSON description for `--output json`.
    pub fn to_json(&self) -> serde_json::Value {
        let violations: Vec<serde_json::Value> = self
            .field_violations()
            .into_iter()
            .map(|(field, description)| serde_json::json!({"field": field, "description": description}))
            .collect();
        serde_json::json!({
            "error": {
                "kind": format!("{:?}", self.kind()),
                "exit_code": exit_code(self.kind()),
                "code": self.code().map(code_name),
                "message": match self { Self::Status(s) => s.message().to_string(), other => other.to_string() },
                "reason": self.reason(),
                "field_violations": violations,
                "hint": hint(self),
            }
        })
    }
}

fn kind_of(code: Code) -> ErrorKind {
    match code {
        Code::NotFound => ErrorKind::NotFound,
        Code::InvalidArgument | Code::OutOfRange | Code::AlreadyExists => ErrorKind::InvalidInput,
        Code::Unauthenticated | Code::PermissionDenied => ErrorKind::Auth,
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted => {
            ErrorKind::Unavailable
        }
        Code::FailedPrecondition | Code::Aborted => ErrorKind::FailedPrecondition,
        _ => ErrorKind::Other,
    }
}

/// What the user can do about it, when we know.
fn hint(error: &ClientError) -> Option<&'static str> {
    let status = error.status()?;
    Some(match (status.code(), error.reason().as_deref()) {
        (_, Some("INTEGRATION_DISABLED")) => {
            "the tenant has no ON24 credentials: run `webinarctl credentials put`"
        }
        (_, Some("WEBINAR_UNLINKED")) => "the webinar is unlinked; create or link another one",
        (_, Some("TENANT_MISMATCH")) => {
            "this identity may not act for that tenant: check --tenant and --identity"
        }
        (_, Some("INVALID_TOKEN")) => "the bearer token is expired or for another issuer/audience",
        (_, Some("PERSON_SUPPRESSED")) => {
            "the person was forgotten in this tenant; register them only after renewed consent \
             (UnsuppressPerson)"
        }
        (Code::Unauthenticated, _) => {
            "present a client certificate (--cert/--key or --identity) or a bearer token (--token)"
        }
        (Code::Unavailable, _) => "is the service running? `cargo xtask up` starts the local stack",
        (Code::DeadlineExceeded, _) => "the call timed out; raise --timeout or retry",
        (Code::Unknown, _) if status.message().contains("transport") => {
            "the connection failed: check the endpoint, the CA, and that a client certificate is given"
        }
        _ => return None,
    })
}

fn describe(status: &Status) -> String {
    let mut text = format!("{}: {}", code_name(status.code()), status.message());
    if let Some(info) = status.get_details_error_info()
        && !info.reason.is_empty()
    {
        text.push_str(&format!(" (reason {})", info.reason));
    }
    if let Some(bad) = status.get_details_bad_request() {
        for v in bad.field_violations {
            text.push_str(&format!("\n  - {}: {}", v.field, v.description));
        }
    }
    text
}

/// The canonical upper-case name of a code, as in the gRPC docs.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Human text: the error, then a hint line when one applies.
#[derive(Debug)]
pub struct Report<'a>(pub &'a ClientError);

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.0)?;
        if let Some(hint) = hint(self.0) {
            write!(f, "\nhint: {hint}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, StatusExt};

    #[test]
    fn bad_request_details_are_shown_with_the_field() {
        let status = Status::with_error_details(
            Code::InvalidArgument,
            "invalid registration",
            ErrorDetails::with_bad_request_violation("registration.email", "must contain one @"),
        );
        let error = ClientError::from(status);
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert_eq!(exit_code(error.kind()), 4);
        let text = error.to_string();
        assert!(text.contains("INVALID_ARGUMENT"), "{text}");
        assert!(
            text.contains("registration.email: must contain one @"),
            "{text}"
        );
    }

    #[test]
    fn codes_map_to_documented_exit_codes() {
        for (code, exit) in [
            (Code::NotFound, 3),
            (Code::PermissionDenied, 5),
            (Code::Unauthenticated, 5),
            (Code::Unavailable, 6),
            (Code::FailedPrecondition, 7),
            (Code::Internal, 1),
        ] {
            assert_eq!(
                exit_code(ClientError::from(Status::new(code, "x")).kind()),
                exit
            );
        }
    }
}
