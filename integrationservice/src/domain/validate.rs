//! Field validation shared by the domain services. Each check names the field it refuses and
//! never echoes the value (it may be personal data).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::Error;

/// Default and maximum page sizes of list operations.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
/// Largest page a list returns.
pub const MAX_PAGE_SIZE: i64 = 1000;

fn chars_between(field: &str, value: &str, min: usize, max: usize) -> Result<(), Error> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(Error::invalid(
            field,
            format!("must be {min} to {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// A tenant id: 1 to 63 of `[a-z0-9-]`, starting with a letter or digit.
pub fn tenant(value: &str) -> Result<(), Error> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "parent",
            "tenant must be 1 to 63 of [a-z0-9-]",
        ))
    }
}

/// A server-assigned id (a lowercase UUID).
pub fn id(field: &str, value: &str) -> Result<(), Error> {
    match uuid::Uuid::parse_str(value) {
        Ok(u) if u.hyphenated().to_string() == value => Ok(()),
        _ => Err(Error::invalid(field, "must be a lowercase UUID")),
    }
}

/// Required text of bounded length.
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<(), Error> {
    chars_between(field, value, min, max)
}

/// Optional text of bounded length.
pub fn opt_text(field: &str, value: Option<&str>, max: usize) -> Result<(), Error> {
    value.map_or(Ok(()), |v| chars_between(field, v, 0, max))
}

/// An identifier chosen by the CRM: 1 to 128 of `[A-Za-z0-9._:-]`.
pub fn reference(field: &str, value: &str) -> Result<(), Error> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(field, "must be 1 to 128 of [A-Za-z0-9._:-]"))
    }
}

/// A client request id: 1 to 64 of `[A-Za-z0-9_-]` (a UUID fits).
pub fn request_id(field: &str, value: &str) -> Result<(), Error> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(field, "must be 1 to 64 of [A-Za-z0-9_-]"))
    }
}

/// Checks an email and returns it normalised (trimmed, lower case).
pub fn email(field: &str, value: &str) -> Result<String, Error> {
    let e = value.trim().to_lowercase();
    let bad = || {
        Error::invalid(
            field,
            "must be an email address (local@domain.tld, at most 254 characters)",
        )
    };
    if e.is_empty() || e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = e.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || local.len() > 64
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return Err(bad());
    }
    Ok(e)
}

/// ON24's live duration rule: 15 to 120 minutes in steps of 15, then up to 480 in steps of 30.
pub fn duration_minutes(field: &str, minutes: i32) -> Result<(), Error> {
    let ok = (15..=120).contains(&minutes) && minutes % 15 == 0
        || (120..=480).contains(&minutes) && minutes % 30 == 0;
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            "must be 15 to 120 minutes in steps of 15, or up to 480 in steps of 30",
        ))
    }
}

/// An IANA time zone name (shape only; ON24 has the final word).
pub fn time_zone(field: &str, value: &str) -> Result<(), Error> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b))
        && (value.contains('/') || value == "UTC" || value == "GMT");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            "must be an IANA time zone such as Europe/Paris",
        ))
    }
}

/// A language code such as `en` or `pt-br`.
pub fn language(field: &str, value: &str) -> Result<(), Error> {
    let ok = (2..=8).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            "must be a language code such as en or pt-br",
        ))
    }
}

/// An optional event type code: up to 64 of `[A-Za-z0-9_-]`.
pub fn event_type(field: &str, value: &str) -> Result<(), Error> {
    let ok = value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(field, "must be up to 64 of [A-Za-z0-9_-]"))
    }
}

/// Optional registrant fields the provider knows, with their length limits.
pub const EXTRA_LIMITS: &[(&str, usize)] = &[
    ("job_function", 256),
    ("company_industry", 256),
    ("company_size", 64),
    ("address_street1", 256),
    ("address_street2", 256),
    ("city", 128),
    ("state", 128),
    ("zip", 32),
    ("country", 128),
    ("work_phone", 32),
    ("partner_ref", 256),
    ("notes", 2000),
    ("ext_event_user_cd", 128),
    ("std1", 256),
    ("std2", 256),
    ("std3", 256),
    ("std4", 256),
    ("std5", 256),
    ("std6", 256),
    ("std7", 256),
    ("std8", 256),
    ("std9", 256),
    ("std10", 256),
];

/// Checks the optional registrant fields (`prefix` is the message path, e.g. `registration`).
pub fn extra(prefix: &str, fields: &BTreeMap<String, String>) -> Result<(), Error> {
    for (k, v) in fields {
        let field = format!("{prefix}.{k}");
        match EXTRA_LIMITS.iter().find(|(name, _)| name == k) {
            Some((_, max)) => chars_between(&field, v, 0, *max)?,
            None => {
                return Err(Error::invalid(
                    format!("{prefix}.standard_fields"),
                    "unknown field",
                ));
            }
        }
    }
    Ok(())
}

/// A page size: 0 means the default; negative is refused.
pub fn page_size(value: i32) -> Result<i64, Error> {
    match value {
        v if v < 0 => Err(Error::invalid("page_size", "must not be negative")),
        0 => Ok(DEFAULT_PAGE_SIZE),
        v => Ok(i64::from(v).min(MAX_PAGE_SIZE)),
    }
}

/// An opaque page token: the last id of the previous page, tagged by what is listed so a
/// token from one list is refused by another.
pub fn encode_page_token(kind: &str, last: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{last}"))
}

/// Reads a page token made by `encode_page_token` for the same `kind`.
pub fn decode_page_token(kind: &str, token: &str) -> Result<Option<String>, Error> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || Error::invalid("page_token", "is not a token this list returned");
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let last = raw
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix(':'))
        .ok_or_else(bad)?;
    // Ids are 36 characters; an attendee list's key is an email, at most 254.
    if last.is_empty() || last.len() > 254 {
        return Err(bad());
    }
    Ok(Some(last.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            email("email", " Ada@Example.COM ").ok().as_deref(),
            Some("ada@example.com")
        );
        for bad in [
            "", "a", "a@b", "@b.c", "a@@b.c", "a b@c.d", "a@.b", "a@b..c", "a@b.c.",
        ] {
            assert!(email("email", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        for ok in [15, 30, 120, 150, 480] {
            assert!(duration_minutes("d", ok).is_ok(), "{ok}");
        }
        for bad in [0, 10, 125, 135, 510, -15] {
            assert!(duration_minutes("d", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn page_tokens_round_trip_and_are_tagged() {
        let t = encode_page_token("registrations", "abc");
        assert_eq!(
            decode_page_token("registrations", &t)
                .ok()
                .flatten()
                .as_deref(),
            Some("abc")
        );
        assert!(decode_page_token("webinars", &t).is_err());
        assert!(decode_page_token("webinars", "!!").is_err());
        assert_eq!(decode_page_token("webinars", "").ok(), Some(None));
    }
}
