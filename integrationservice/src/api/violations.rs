//! Field violations at the edge. The rules of the resources' fields live in the domain types'
//! constructors (`Email::parse`, `TimeZone::parse`, `AccessToken::parse`, ...); the
//! [`Violations`] collector gathers their refusals with the field path and answers
//! INVALID_ARGUMENT with a `google.rpc.BadRequest` naming every bad field at once (never the
//! value).

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// Collects field violations of one request (or one batch item, whose paths are relative
/// to the item).
#[derive(Debug, Default)]
pub(crate) struct Violations {
    list: Vec<FieldViolation>,
}

impl Violations {
    /// An empty collector; field paths are used as given.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Records a violation.
    pub(crate) fn add(&mut self, field: &str, description: impl Into<String>) {
        self.list.push(FieldViolation::new(field, description));
    }

    /// Records the error of `result` (if any) under `field` and returns its value.
    pub(crate) fn check<T, E: Into<String>>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(description) => {
                self.add(field, description);
                None
            }
        }
    }

    /// The violations recorded so far.
    #[cfg(test)]
    pub(crate) fn into_vec(self) -> Vec<FieldViolation> {
        self.list
    }

    /// True if nothing was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// `value` (what the checks produced), or INVALID_ARGUMENT naming every recorded field.
    /// `value` is None only when a check failed, so the fallback status is never sent.
    pub(crate) fn into_value<T>(self, value: Option<T>) -> Result<T, Status> {
        self.into_result()?;
        value.ok_or_else(|| Status::invalid_argument("invalid request"))
    }

    /// `Ok(())`, or INVALID_ARGUMENT with a BadRequest naming every recorded field.
    pub(crate) fn into_result(self) -> Result<(), Status> {
        if self.list.is_empty() {
            return Ok(());
        }
        let fields: Vec<&str> = self.list.iter().map(|v| v.field.as_str()).collect();
        let message = format!("invalid field(s): {}", fields.join(", "));
        Err(Status::with_error_details(
            Code::InvalidArgument,
            message,
            ErrorDetails::with_bad_request(self.list),
        ))
    }
}

/// INVALID_ARGUMENT naming one field.
pub(crate) fn invalid(field: &str, description: impl Into<String>) -> Status {
    let mut v = Violations::new();
    v.add(field, description);
    v.into_result()
        .err()
        .unwrap_or_else(|| Status::invalid_argument(""))
}
