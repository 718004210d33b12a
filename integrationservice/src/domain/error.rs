//! The domain's error type: what the API maps to gRPC codes. Messages are safe to return to
//! the caller (no secrets, no SQL, no personal data); details of unexpected failures are
//! logged where they happen and the caller gets a plain internal error.

pub use crate::invalid::Invalid;

use crate::crypto::CryptoError;
use crate::keyclient::KeyError;
use crate::store::StoreError;

/// Errors of the domain services.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A field is invalid (INVALID_ARGUMENT with a field violation).
    #[error("invalid {field}: {message}")]
    Validation {
        /// The request field, in proto field-path form (`webinar.title`, `email`).
        field: String,
        /// What is wrong, without echoing the value.
        message: String,
    },
    /// The resource does not exist for this tenant (NOT_FOUND).
    #[error("{resource} not found")]
    NotFound {
        /// Resource name or kind.
        resource: String,
    },
    /// The resource exists already (ALREADY_EXISTS).
    #[error("{resource} already exists")]
    AlreadyExists {
        /// Resource name or kind.
        resource: String,
    },
    /// The tenant's integration is disabled: its credentials were deleted (FAILED_PRECONDITION).
    #[error("the integration is disabled for tenant {tenant}: {reason}")]
    IntegrationDisabled {
        /// The tenant.
        tenant: String,
        /// Why.
        reason: String,
    },
    /// The resource is in a state that forbids this (FAILED_PRECONDITION, `INVALID_STATUS`).
    #[error("{0}")]
    FailedPrecondition(String),
    /// The webinar was unlinked: it takes no more registrations, updates or metrics pulls
    /// (FAILED_PRECONDITION, `WEBINAR_UNLINKED`). Its own variant so the API maps it by type,
    /// not by the wording of a message.
    #[error("{resource} is unlinked")]
    WebinarUnlinked {
        /// The webinar's resource name.
        resource: String,
    },
    /// ON24 answered the tenant with its quota, and the tenant's slow-down has not ended: no
    /// call to ON24 is made before `retry_after_ms` (RESOURCE_EXHAUSTED with RetryInfo).
    #[error("the tenant is slowed down by ON24's quota for {retry_after_ms} ms")]
    SlowedDown {
        /// Milliseconds until the slow-down ends.
        retry_after_ms: i64,
    },
    /// The tenant used up its share of `what` for now (RESOURCE_EXHAUSTED with RetryInfo).
    #[error("rate limited: {what}; retry in {retry_after_ms} ms")]
    RateLimited {
        /// What is limited.
        what: &'static str,
        /// Milliseconds until a token is back.
        retry_after_ms: i64,
    },
    /// A change-feed cursor points before entries the retention purge deleted, so reading
    /// on would skip changes (FAILED_PRECONDITION, `CURSOR_EXPIRED`): start again from an
    /// empty cursor and re-read the current state.
    #[error("the cursor is older than the change feed's {window_days}-day window")]
    CursorExpired {
        /// The feed's window in days.
        window_days: u32,
    },
    /// The person was forgotten in this tenant and has not consented again (INVALID_ARGUMENT
    /// with a `PERSON_SUPPRESSED` violation of `registration.email`).
    #[error("the person is suppressed in this tenant")]
    PersonSuppressed,
    /// A dependency is down or overloaded; retry (UNAVAILABLE).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Anything unexpected (INTERNAL); the message is already generic.
    #[error("internal error")]
    Internal,
}

impl Error {
    /// A validation error on `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A not-found error for `resource`.
    pub fn not_found(resource: impl Into<String>) -> Self {
        Self::NotFound {
            resource: resource.into(),
        }
    }
}

/// The validation error of a field (see [`Invalid`]).
impl Invalid {
    /// The validation error of `field` (a proto field path, e.g. `webinar.title`).
    pub fn at(self, field: impl Into<String>) -> Error {
        Error::invalid(field, String::from(self))
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => {
                tracing::warn!(error = %m, "database unavailable");
                Self::Unavailable("database unavailable".into())
            }
            StoreError::Query(q) => q.into(),
            StoreError::Migration(m) => {
                tracing::error!(error = %m, "migration failed");
                Self::Internal
            }
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as D};
        match e {
            D::NotFound => Self::not_found("resource"),
            D::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => Self::AlreadyExists {
                resource: "resource".into(),
            },
            D::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                Self::Unavailable("concurrent update; retry".into())
            }
            // The connection died under the call (the server restarted, failed over or was
            // unreachable): the pool drops the broken connection and a retry gets a fresh one,
            // so the caller is told to retry rather than that something is wrong.
            ref lost if servicekit::db::connection_lost(lost) => {
                tracing::warn!(error = %lost, "database connection lost");
                Self::Unavailable("database unavailable".into())
            }
            other => {
                tracing::error!(error = %other, "database query failed");
                Self::Internal
            }
        }
    }
}

/// What a caller is told when the tenant's key at the key service is scheduled for deletion
/// or destroyed: the tenant was purged, and its data can neither be written nor read again.
const UNUSABLE_KEY: &str = "the tenant's key at the key service is scheduled for deletion or destroyed \
     (the tenant was purged): its data can no longer be written or read; cancel the key's deletion \
     at the key service within its waiting period, or use a new tenant id";

impl From<CryptoError> for Error {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::Key(KeyError::Unavailable(m)) => {
                tracing::warn!(error = %m, "key service unavailable");
                Self::Unavailable("key service unavailable".into())
            }
            CryptoError::Key(KeyError::Unusable(m)) => {
                tracing::warn!(error = %m, "a tenant key is scheduled for deletion or destroyed");
                Self::FailedPrecondition(UNUSABLE_KEY.into())
            }
            other => {
                tracing::error!(error = %other, "envelope encryption failed");
                Self::Internal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorKind as K, Error as D};

    use super::Error;

    fn database(kind: K, message: &str) -> D {
        D::DatabaseError(kind, Box::new(message.to_owned()))
    }

    #[test]
    fn a_lost_database_connection_is_unavailable_not_internal() {
        let lost = [
            database(
                K::ClosedConnection,
                "terminating connection due to administrator command",
            ),
            database(K::UnableToSendCommand, "server closed the connection"),
            D::RollbackErrorOnCommit {
                rollback_error: Box::new(database(K::UnableToSendCommand, "no connection")),
                commit_error: Box::new(database(K::ClosedConnection, "connection closed")),
            },
            D::BrokenTransactionManager,
        ];
        for e in lost {
            let shown = format!("{e:?}");
            let error = Error::from(e);
            assert_eq!(
                error,
                Error::Unavailable("database unavailable".into()),
                "{shown}"
            );
            assert_eq!(
                tonic::Status::from(error).code(),
                tonic::Code::Unavailable,
                "{shown}: clients retry UNAVAILABLE"
            );
        }
        // The same through the store's error, as every store call reports it.
        let through_store = Error::from(crate::store::StoreError::Query(database(
            K::ClosedConnection,
            "connection closed",
        )));
        assert_eq!(
            tonic::Status::from(through_store).code(),
            tonic::Code::Unavailable
        );
    }

    #[test]
    fn a_wrong_query_stays_internal() {
        let e = database(K::Unknown, "syntax error at or near");
        assert_eq!(Error::from(e), Error::Internal);
        let failed_commit = D::RollbackErrorOnCommit {
            rollback_error: Box::new(database(K::Unknown, "x")),
            commit_error: Box::new(database(K::CheckViolation, "check")),
        };
        assert_eq!(Error::from(failed_commit), Error::Internal);
    }
}
