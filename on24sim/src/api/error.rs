//! ON24's error responses: an HTTP status with a JSON body `{"message": "..."}` whose text is
//! the contract's own wording (clients tell quota 403s from permission 403s by it).

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// An error answer of the simulated API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status ON24 answers with.
    pub status: u16,
    /// ON24's `message` text in the body.
    pub message: String,
}

impl ApiError {
    /// An error answer with this status and message.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 401 for a missing or unknown token, as ON24 words it.
    pub fn unauthorized() -> Self {
        Self::new(
            401,
            "AccessTokenKey and AccessTokenSecret are wrong or invalid.",
        )
    }

    /// 403 for a token of another client or a deactivated account.
    pub fn no_permission() -> Self {
        Self::new(
            403,
            "You do not have permission to perform the requested operation.",
        )
    }

    /// 403 for an Elite-only call made by a non-Elite account.
    pub fn not_elite() -> Self {
        Self::new(403, "The client id is not an Elite user")
    }

    /// 400 naming an event the caller's client does not have.
    pub fn event_not_found(event_id: i64) -> Self {
        Self::new(404, format!("The event {event_id} doesn't exist."))
    }

    /// 400 for a malformed or refused request field.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(serde_json::json!({ "message": self.message }))).into_response()
    }
}

/// What a handler returns: its answer, or ON24's error body.
pub type ApiResult<T> = Result<T, ApiError>;
