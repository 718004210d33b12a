//! Field validation at the edge. Every check returns a description of what is allowed; the
//! [`Violations`] collector gathers them with the field path and answers INVALID_ARGUMENT with a
//! `google.rpc.BadRequest` naming every bad field at once.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// Collects field violations of one request (or one batch item, whose paths are relative
/// to the item).
#[derive(Debug, Default)]
pub struct Violations {
    list: Vec<FieldViolation>,
}

impl Violations {
    /// An empty collector; field paths are used as given.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a violation.
    pub fn add(&mut self, field: &str, description: impl Into<String>) {
        self.list.push(FieldViolation::new(field, description));
    }

    /// Records the error of `result` (if any) under `field` and returns its value.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(description) => {
                self.add(field, description);
                None
            }
        }
    }

    /// True if nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The violations recorded so far (for batch item results).
    pub fn into_vec(self) -> Vec<FieldViolation> {
        self.list
    }

    /// `value` (what the checks produced), or INVALID_ARGUMENT naming every recorded field.
    /// `value` is None only when a check failed, so the fallback status is never sent.
    pub fn into_value<T>(self, value: Option<T>) -> Result<T, Status> {
        self.into_result()?;
        value.ok_or_else(|| Status::invalid_argument("invalid request"))
    }

    /// `Ok(())`, or INVALID_ARGUMENT with a BadRequest naming every recorded field.
    pub fn into_result(self) -> Result<(), Status> {
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
pub fn invalid(field: &str, description: impl Into<String>) -> Status {
    let mut v = Violations::new();
    v.add(field, description);
    v.into_result()
        .err()
        .unwrap_or_else(|| Status::invalid_argument(""))
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A required text of `min..=max` characters, no control characters, no surrounding blanks.
pub fn required_text(value: &str, min: usize, max: usize) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("required".into());
    }
    text(value, min, max)
}

/// An optional text of at most `max` characters (empty allowed).
pub fn optional_text(value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    text(value, 0, max)
}

fn text(value: &str, min: usize, max: usize) -> Result<(), String> {
    let count = value.chars().count();
    if count < min || count > max {
        return Err(format!("must be {min} to {max} characters long"));
    }
    if has_control(value) {
        return Err("must not contain control characters".into());
    }
    if value.trim() != value {
        return Err("must not start or end with blanks".into());
    }
    Ok(())
}

/// An email address: at most 254 characters, one `@`, a local part of 1 to 64 visible
/// characters and a domain of dot-separated labels of `[A-Za-z0-9-]` with at least one dot.
pub fn email(value: &str) -> Result<(), String> {
    const RULE: &str = "must be an email address like name@example.com (at most 254 characters)";
    if value.is_empty() {
        return Err("required".into());
    }
    if value.len() > 254 || has_control(value) || value.chars().any(char::is_whitespace) {
        return Err(RULE.into());
    }
    let Some((local, domain)) = value.split_once('@') else {
        return Err(RULE.into());
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !local.contains(['"', '(', ')', ',', ':', ';', '<', '>', '@', '[', '\\', ']']);
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if local_ok && domain_ok {
        Ok(())
    } else {
        Err(RULE.into())
    }
}

/// A CRM reference id: 1 to 128 characters of `[A-Za-z0-9._:-]`.
pub fn crm_reference(value: &str, required: bool) -> Result<(), String> {
    if value.is_empty() {
        return if required {
            Err("required".into())
        } else {
            Ok(())
        };
    }
    if value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    {
        Ok(())
    } else {
        Err("must be 1 to 128 characters of [A-Za-z0-9._:-]".into())
    }
}

/// An optional client request id (a UUID).
pub fn request_id(value: &str) -> Result<Option<uuid::Uuid>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    uuid::Uuid::try_parse(value)
        .map(Some)
        .map_err(|_| "must be a UUID".into())
}

/// A page size: 0 (the default of 100) to 1,000.
pub fn page_size(value: i32) -> Result<usize, String> {
    match value {
        0 => Ok(100),
        1..=1000 => Ok(value as usize),
        _ => Err("must be between 0 and 1000".into()),
    }
}

/// ON24's live duration rule: 15 to 120 minutes in steps of 15, then up to 480 in steps of 30.
pub fn duration_minutes(value: i32) -> Result<u32, String> {
    let ok = (15..=120).contains(&value) && value % 15 == 0
        || (150..=480).contains(&value) && value % 30 == 0;
    if ok {
        Ok(value as u32)
    } else {
        Err("must be 15 to 120 minutes in steps of 15, or up to 480 in steps of 30".into())
    }
}

/// An IANA time zone name such as `Europe/Paris` or `UTC` (shape only).
pub fn time_zone(value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.split('/').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+'))
        })
        && value.as_bytes()[0].is_ascii_alphabetic();
    if ok {
        Ok(())
    } else {
        Err("must be an IANA time zone such as `Europe/Paris`".into())
    }
}

/// An ON24 language code such as `en` or `pt-br` (empty means `en`).
pub fn language_code(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    let (lang, region) = value.split_once('-').unwrap_or((value, ""));
    let ok = (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && (region.is_empty()
            || (2..=8).contains(&region.len())
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err("must be a lowercase language code such as `en` or `pt-br`".into())
    }
}

/// An ON24 event type code (empty means the account default).
pub fn event_type(value: &str) -> Result<(), String> {
    if value.is_empty()
        || value.len() <= 64
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
    {
        Ok(())
    } else {
        Err("must be 1 to 64 characters of [A-Za-z0-9_-]".into())
    }
}

/// A timestamp between 2000 and 2100 with valid nanoseconds.
pub fn timestamp(
    value: Option<&prost_types::Timestamp>,
) -> Result<chrono::DateTime<chrono::Utc>, String> {
    const MIN: i64 = 946_684_800; // 2000-01-01
    const MAX: i64 = 4_102_444_800; // 2100-01-01
    let Some(ts) = value else {
        return Err("required".into());
    };
    if !(MIN..MAX).contains(&ts.seconds) || !(0..1_000_000_000).contains(&ts.nanos) {
        return Err("must be a valid time between 2000 and 2100".into());
    }
    chrono::DateTime::from_timestamp(ts.seconds, ts.nanos as u32)
        .ok_or_else(|| "must be a valid time".into())
}

/// An ON24 client id: 1 to 20 digits.
pub fn on24_client_id(value: &str) -> Result<u64, String> {
    if value.is_empty() {
        return Err("required".into());
    }
    if value.len() <= 20 && value.bytes().all(|b| b.is_ascii_digit()) {
        value
            .parse()
            .map_err(|_| "must be a number that fits 64 bits".into())
    } else {
        Err("must be 1 to 20 digits".into())
    }
}

/// An ON24 access token key or secret: 8 to 256 printable ASCII characters. The description
/// never repeats the value.
pub fn access_token(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("required".into());
    }
    if (8..=256).contains(&value.len()) && value.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        Ok(())
    } else {
        Err("must be 8 to 256 printable ASCII characters without spaces".into())
    }
}

/// An ON24 API base URL: https (http only if allowed), no credentials, query or fragment.
pub fn base_url(value: &str, allow_http: bool) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    let url = reqwest::Url::parse(value).map_err(|_| "must be an absolute URL".to_string())?;
    let scheme_ok = url.scheme() == "https" || allow_http && url.scheme() == "http";
    if !scheme_ok {
        return Err(if allow_http {
            "must be an http or https URL".into()
        } else {
            "must be an https URL".into()
        });
    }
    if url.host_str().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
        || value.len() > 512
    {
        return Err(
            "must be a plain URL (no credentials, query or fragment; at most 512 characters)"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.co", "first.last+tag@sub.example.com", "x_y@a-b.io"] {
            assert!(email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@.co", "a@b..co", "a b@c.co", "a@b.co\n", "a@@b.co",
            ".a@b.co", "a@-b.co", "a@b_c.co",
        ] {
            assert!(email(bad).is_err(), "{bad:?}");
        }
        assert!(email(&format!("{}@b.co", "a".repeat(65))).is_err());
    }

    #[test]
    fn durations_follow_on24() {
        for ok in [15, 30, 120, 150, 480] {
            assert!(duration_minutes(ok).is_ok(), "{ok}");
        }
        for bad in [0, -15, 10, 135, 165, 510] {
            assert!(duration_minutes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn texts_and_codes() {
        assert!(required_text(" ", 1, 10).is_err());
        assert!(required_text(" a", 1, 10).is_err());
        assert!(required_text("a\u{7}", 1, 10).is_err());
        assert!(required_text("é", 1, 1).is_ok());
        assert!(language_code("pt-br").is_ok());
        assert!(language_code("EN").is_err());
        assert!(time_zone("America/Argentina/Buenos_Aires").is_ok());
        assert!(time_zone("../etc").is_err());
        assert!(on24_client_id("12345").is_ok());
        assert!(on24_client_id("12a").is_err());
        assert!(access_token("short").is_err());
        assert!(base_url("https://api.on24.com/v2", false).is_ok());
        assert!(base_url("http://127.0.0.1:9080/v2", false).is_err());
        assert!(base_url("http://127.0.0.1:9080/v2", true).is_ok());
        assert!(base_url("https://u:p@x.com/v2", false).is_err());
    }
}
