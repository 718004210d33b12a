//! The domain error: precise variants the gRPC edge maps to status codes.

use crate::{rootkey::RootKeyError, store::StoreError};

/// Result of domain operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, precisely enough to choose a gRPC code. No variant ever carries key
/// material, plaintext or associated data.
///
/// Suggested mapping: `InvalidArgument` and `CannotUnwrap` -> INVALID_ARGUMENT (for
/// `CannotUnwrap` the message is exactly "cannot unwrap"), `NotFound` -> NOT_FOUND,
/// `AlreadyExists` -> ALREADY_EXISTS, `FailedPrecondition` -> FAILED_PRECONDITION,
/// `ResourceExhausted` -> RESOURCE_EXHAUSTED, `Aborted` -> ABORTED, `Unavailable` ->
/// UNAVAILABLE, `Internal` and `RootKey` -> INTERNAL with a generic message (log the detail).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request field is malformed or out of range.
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// Proto field name (e.g. `name`, `associated_data`).
        field: &'static str,
        /// Why, in English, without secret values.
        reason: String,
    },
    /// The named resource (`keys/{key}` or `keys/{key}/versions/{n}`) does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A key with this name exists (possibly deleted: ids are never reused).
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The resource is in the wrong state (e.g. key scheduled for deletion, disabling the
    /// primary version).
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    /// A limit was reached (e.g. the version's wrap limit and rotation failed).
    #[error("resource exhausted: {0}")]
    ResourceExhausted(String),
    /// Unwrapping failed. Deliberately the same for every cause: malformed or tampered
    /// bytes, wrong associated data, unknown or disabled version, version below the minimum
    /// decryption version, key deleted.
    #[error("cannot unwrap")]
    CannotUnwrap,
    /// Another writer changed the key at the same time, repeatedly; the caller may retry.
    #[error("concurrent modification of {0}; retry")]
    Aborted(String),
    /// The database could not be reached in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Unexpected failure; the message is for logs, not for callers.
    #[error("internal error: {0}")]
    Internal(String),
    /// The root key provider failed; for logs, not for callers.
    #[error("root key failure: {0}")]
    RootKey(#[from] RootKeyError),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => Self::Unavailable(m),
            // The connection died under the call (a database restart or failover): retryable.
            lost if lost.is_unavailable() => Self::Unavailable(lost.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::crypto::CannotUnwrap> for Error {
    fn from(_: crate::crypto::CannotUnwrap) -> Self {
        Self::CannotUnwrap
    }
}

impl Error {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorKind as K, Error as D};

    use super::{Error, StoreError};

    #[test]
    fn a_lost_database_connection_is_unavailable_and_a_wrong_query_internal() {
        let closed = D::DatabaseError(
            K::ClosedConnection,
            Box::new("terminating connection due to administrator command".to_owned()),
        );
        assert!(matches!(
            Error::from(StoreError::Query(closed)),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            Error::from(StoreError::Query(D::BrokenTransactionManager)),
            Error::Unavailable(_)
        ));
        let wrong = D::DatabaseError(K::Unknown, Box::new("syntax error".to_owned()));
        assert!(matches!(
            Error::from(StoreError::Query(wrong)),
            Error::Internal(_)
        ));
    }
}
