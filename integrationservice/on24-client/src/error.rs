//! Errors of the ON24 client, classified for retry decisions and metrics.
//!
//! ON24 reports quota exhaustion as HTTP 403 with a message, the same status it uses for
//! "no permission" or "inactive client"; only the message text tells them apart, so the
//! classification reads it. Error strings carry the operation name, the class and the HTTP
//! status only — never ON24's answer text (a tenant-chosen host could put anything there),
//! credentials, URLs (they can hold an email address) or request bodies. ON24's `message`
//! stays readable by code through `on24_message` for classification and tests.

use std::time::Duration;

/// The longest ON24 message we keep; ON24 messages are one sentence, anything longer is
/// not a message we understand and is cut so a hostile upstream cannot bloat our logs.
const MAX_MESSAGE_CHARS: usize = 300;

/// Why ON24 refused a call for good: retrying the same request will not help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermanentKind {
    /// 401: the access token key/secret pair is wrong or missing.
    InvalidCredentials,
    /// 401: the token pair was deactivated (ON24 disables tokens unused for 60 days).
    DeactivatedToken,
    /// 403: the token may not perform this operation or see this client id.
    Forbidden,
    /// 403: the client id (or the event) is inactive.
    Inactive,
    /// 403: the operation needs ON24's "Elite" tier.
    NotElite,
    /// 404 (or 410 for an already deleted event): the client, event or registrant does not exist.
    NotFound,
    /// 400: ON24 rejected a parameter or form field.
    Validation,
    /// 412: a precondition failed (e.g. soft-deleting a registrant after the event started,
    /// deleting an event that does not meet the deletion criteria).
    PreconditionFailed,
    /// Any other status ON24 does not document for this operation.
    UnexpectedStatus,
}

impl PermanentKind {
    /// The stable metrics/log class of this kind.
    pub fn class(self) -> &'static str {
        match self {
            Self::InvalidCredentials | Self::DeactivatedToken => "auth",
            Self::Forbidden | Self::Inactive | Self::NotElite => "forbidden",
            Self::NotFound => "not_found",
            Self::Validation | Self::PreconditionFailed => "validation",
            Self::UnexpectedStatus => "unexpected",
        }
    }
}

/// Why a call may succeed if tried again later (with back-off: ON24 sends no Retry-After).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryableKind {
    /// 403 "maximum number of calls": the per-client call budget is spent.
    Quota,
    /// 5xx from ON24 (or a proxy in front of it).
    Server,
    /// No complete answer within the per-call timeout.
    Timeout,
    /// Could not connect, or the connection broke before a complete answer.
    Connection,
}

impl RetryableKind {
    /// The stable metrics/log class of this kind.
    pub fn class(self) -> &'static str {
        match self {
            Self::Quota => "quota",
            Self::Server => "server",
            Self::Timeout => "timeout",
            Self::Connection => "connection",
        }
    }
}

/// An ON24 client error. `Display` and `Debug` are safe to log: neither shows ON24's answer
/// text, which stays readable by code through [`On24Error::on24_message`].
#[derive(thiserror::Error)]
pub enum On24Error {
    /// The call may succeed later.
    #[error("ON24 {operation}: retryable {} error{}", kind.class(), fmt_status(*status))]
    Retryable {
        operation: &'static str,
        kind: RetryableKind,
        status: Option<u16>,
        message: Option<String>,
    },
    /// ON24 refused the call; the same request will fail again.
    #[error("ON24 {operation}: {} error{}", kind.class(), fmt_status(Some(*status)))]
    Permanent {
        operation: &'static str,
        kind: PermanentKind,
        status: u16,
        message: Option<String>,
    },
    /// A 2xx answer whose body is not the JSON the contract shows.
    #[error("ON24 {operation}: response body could not be decoded: {detail}")]
    Decode {
        operation: &'static str,
        detail: String,
    },
    /// The request was refused by the client itself before any I/O (it would have
    /// been a 400 from ON24). The detail names the field, never its value.
    #[error("ON24 {operation}: invalid request: {detail}")]
    Invalid {
        operation: &'static str,
        detail: String,
    },
    /// The client was configured with something it refuses (base URL, credentials).
    #[error("ON24 client configuration: {0}")]
    Config(String),
}

/// Shows whether ON24 sent a message and how long it was, never the text: a tenant-chosen
/// host could put anything there, and `{:?}` of an error ends up in logs and panics.
impl std::fmt::Debug for On24Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |message: &Option<String>| {
            message
                .as_ref()
                .map(|m| format!("<{} chars withheld>", m.chars().count()))
        };
        match self {
            Self::Retryable {
                operation,
                kind,
                status,
                message,
            } => f
                .debug_struct("Retryable")
                .field("operation", operation)
                .field("kind", kind)
                .field("status", status)
                .field("message", &redacted(message))
                .finish(),
            Self::Permanent {
                operation,
                kind,
                status,
                message,
            } => f
                .debug_struct("Permanent")
                .field("operation", operation)
                .field("kind", kind)
                .field("status", status)
                .field("message", &redacted(message))
                .finish(),
            Self::Decode { operation, detail } => f
                .debug_struct("Decode")
                .field("operation", operation)
                .field("detail", detail)
                .finish(),
            Self::Invalid { operation, detail } => f
                .debug_struct("Invalid")
                .field("operation", operation)
                .field("detail", detail)
                .finish(),
            Self::Config(detail) => f.debug_tuple("Config").field(detail).finish(),
        }
    }
}

fn fmt_status(status: Option<u16>) -> String {
    status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
}

impl On24Error {
    /// True when the same call may succeed later (quota, 5xx, timeout, connection).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }

    /// True when ON24 said the call budget is spent (403 "maximum number of calls").
    pub fn is_quota(&self) -> bool {
        matches!(
            self,
            Self::Retryable {
                kind: RetryableKind::Quota,
                ..
            }
        )
    }

    /// A stable, low-cardinality string for metrics and logs:
    /// "quota", "auth", "forbidden", "not_found", "validation", "server", "timeout",
    /// "connection", plus "unexpected", "decode" and "config" for the rest.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Retryable { kind, .. } => kind.class(),
            Self::Permanent { kind, .. } => kind.class(),
            Self::Invalid { .. } => "validation",
            Self::Decode { .. } => "decode",
            Self::Config(_) => "config",
        }
    }

    /// The permanent kind, when ON24 refused the call for good.
    pub fn permanent_kind(&self) -> Option<PermanentKind> {
        match self {
            Self::Permanent { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The HTTP status ON24 answered with, when there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Retryable { status, .. } => *status,
            Self::Permanent { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// ON24's own `message`, as sent (bounded in length).
    pub fn on24_message(&self) -> Option<&str> {
        match self {
            Self::Retryable { message, .. } | Self::Permanent { message, .. } => message.as_deref(),
            _ => None,
        }
    }

    /// Classifies a non-2xx answer from its status and ON24's message.
    pub(crate) fn from_status(
        operation: &'static str,
        status: u16,
        message: Option<String>,
    ) -> Self {
        let lower = message.as_deref().unwrap_or_default().to_ascii_lowercase();
        let retryable = |kind| Self::Retryable {
            operation,
            kind,
            status: Some(status),
            message: message.clone(),
        };
        // ON24 words the quota message two ways ("You have reached the maximum number of
        // calls for this api", "You reached the maximum number of calls for this endpoint").
        if (status == 403 || status == 429) && lower.contains("maximum number of calls") {
            return retryable(RetryableKind::Quota);
        }
        if status == 429 {
            // Not documented by ON24, but a proxy in front of it may say so.
            return retryable(RetryableKind::Quota);
        }
        if status >= 500 {
            return retryable(RetryableKind::Server);
        }
        let kind = match status {
            401 if lower.contains("deactivated") => PermanentKind::DeactivatedToken,
            401 => PermanentKind::InvalidCredentials,
            403 if lower.contains("elite") => PermanentKind::NotElite,
            403 if lower.contains("inactive") => PermanentKind::Inactive,
            403 => PermanentKind::Forbidden,
            404 | 410 => PermanentKind::NotFound,
            400 => PermanentKind::Validation,
            412 => PermanentKind::PreconditionFailed,
            _ => PermanentKind::UnexpectedStatus,
        };
        Self::Permanent {
            operation,
            kind,
            status,
            message,
        }
    }

    /// Classifies a transport failure. The reqwest error is reduced to its kind: its
    /// `Display` would print the URL, and ON24 URLs can contain an email address.
    pub(crate) fn from_transport(operation: &'static str, err: &reqwest::Error) -> Self {
        let kind = if err.is_timeout() {
            RetryableKind::Timeout
        } else {
            RetryableKind::Connection
        };
        Self::Retryable {
            operation,
            kind,
            status: None,
            message: None,
        }
    }

    /// A timeout our own clock enforced (the whole call, body included).
    pub(crate) fn timeout(operation: &'static str, after: Duration) -> Self {
        Self::Retryable {
            operation,
            kind: RetryableKind::Timeout,
            status: None,
            message: Some(format!(
                "no complete answer within {} ms",
                after.as_millis()
            )),
        }
    }
}

/// Extracts ON24's `message` from an error body: JSON `{"message": ...}` (or `error`,
/// `errorMessage`), else the body text when it is short plain text.
pub(crate) fn extract_message(body: &[u8]) -> Option<String> {
    let text = if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        ["message", "error", "errorMessage", "description"]
            .iter()
            .find_map(|key| value.get(key).and_then(|v| v.as_str()).map(str::to_owned))?
    } else {
        let text = std::str::from_utf8(body).ok()?.trim();
        // HTML error pages from proxies are noise, not a message.
        if text.is_empty() || text.starts_with('<') {
            return None;
        }
        text.to_owned()
    };
    Some(bound(&text))
}

fn bound(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_MESSAGE_CHARS)
        .collect();
    clean.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_text_never_reaches_display_or_debug() {
        let canary = "CANARY-7f3a internal detail";
        let json = format!(r#"{{"message":"{canary}"}}"#);
        for body in [canary, json.as_str()] {
            for status in [400, 401, 403, 404, 429, 500, 503] {
                let e =
                    On24Error::from_status("get_event", status, extract_message(body.as_bytes()));
                assert_eq!(
                    e.on24_message(),
                    Some(canary),
                    "code still reads the message"
                );
                assert!(!e.to_string().contains("CANARY"), "{e}");
                let debug = format!("{e:?}");
                assert!(!debug.contains("CANARY"), "{debug}");
                assert!(debug.contains("27 chars withheld"), "{debug}");
            }
        }
    }

    #[test]
    fn quota_403_is_retryable_and_permission_403_is_not() {
        let quota = On24Error::from_status(
            "list_events",
            403,
            Some("You have reached the maximum number of calls for this api".into()),
        );
        assert!(quota.is_retryable() && quota.is_quota());
        assert_eq!(quota.class(), "quota");
        let quota2 = On24Error::from_status(
            "delete_event",
            403,
            Some("You reached the maximum number of calls for this endpoint".into()),
        );
        assert!(quota2.is_quota());
        let perm = On24Error::from_status(
            "list_events",
            403,
            Some("You do not have permission to perform the requested operation.".into()),
        );
        assert!(!perm.is_retryable() && !perm.is_quota());
        assert_eq!(perm.class(), "forbidden");
        assert_eq!(perm.permanent_kind(), Some(PermanentKind::Forbidden));
    }

    #[test]
    fn statuses_map_to_stable_classes() {
        let cases = [
            (
                401,
                "AccessTokenKey and AccessTokenSecret are wrong or invalid.",
                "auth",
                PermanentKind::InvalidCredentials,
            ),
            (
                401,
                "AccessTokenKey and AccessTokenSecret are deactivated.",
                "auth",
                PermanentKind::DeactivatedToken,
            ),
            (
                403,
                "The client id 1 is inactive.",
                "forbidden",
                PermanentKind::Inactive,
            ),
            (
                403,
                "The client id is not an Elite user",
                "forbidden",
                PermanentKind::NotElite,
            ),
            (
                404,
                "The event 5 doesn't exist.",
                "not_found",
                PermanentKind::NotFound,
            ),
            (
                400,
                "The email parameter is missing.",
                "validation",
                PermanentKind::Validation,
            ),
            (
                412,
                "You're trying to soft delete the registrant you're creating.",
                "validation",
                PermanentKind::PreconditionFailed,
            ),
        ];
        for (status, msg, class, kind) in cases {
            let e = On24Error::from_status("op", status, Some(msg.into()));
            assert_eq!(e.class(), class, "{status} {msg}");
            assert_eq!(e.permanent_kind(), Some(kind));
            assert_eq!(e.on24_message(), Some(msg));
            // ON24's own text stays out of what callers and logs see.
            assert!(!e.to_string().contains(msg), "{e}");
        }
        let e = On24Error::from_status("op", 503, None);
        assert!(e.is_retryable());
        assert_eq!(e.class(), "server");
    }

    #[test]
    fn messages_are_extracted_and_bounded() {
        assert_eq!(
            extract_message(br#"{"code":404,"message":"The event 5 doesn't exist."}"#).as_deref(),
            Some("The event 5 doesn't exist.")
        );
        assert_eq!(extract_message(b"<html>bad gateway</html>"), None);
        let long = "x".repeat(10_000);
        assert_eq!(
            extract_message(long.as_bytes()).map(|m| m.len()),
            Some(MAX_MESSAGE_CHARS)
        );
        assert_eq!(
            extract_message(b"line\nbreak").as_deref(),
            Some("line break")
        );
    }
}
