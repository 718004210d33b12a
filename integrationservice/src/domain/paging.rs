//! Paging of the list operations: the page size rule and the domain's page tokens (the last
//! key of the previous page, tagged by what is listed). The API signs these tokens before a
//! caller sees them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{Error, Invalid};

/// How many items a list returns: 1 to 1,000; 0 asks for the default of 100.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageSize(u16);

impl PageSize {
    /// The page size of a request that names none.
    pub const DEFAULT: u16 = 100;
    /// The largest page.
    pub const MAX: u16 = 1000;

    /// Checks a requested size (0: the default).
    pub fn parse(value: i32) -> Result<Self, Invalid> {
        match value {
            0 => Ok(Self(Self::DEFAULT)),
            1..=1000 => Ok(Self(value as u16)),
            _ => Err(Invalid::new("must be between 0 and 1000")),
        }
    }

    /// The size.
    pub fn get(self) -> i64 {
        i64::from(self.0)
    }
}

/// The page size of a domain call, or INVALID_ARGUMENT on `page_size`.
pub(crate) fn limit(page_size: i32) -> Result<i64, Error> {
    PageSize::parse(page_size)
        .map(PageSize::get)
        .map_err(|e| e.at("page_size"))
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
    fn page_sizes() {
        assert_eq!(PageSize::parse(0).map(PageSize::get).ok(), Some(100));
        assert_eq!(PageSize::parse(1000).map(PageSize::get).ok(), Some(1000));
        for bad in [-1, 1001, i32::MAX] {
            assert!(PageSize::parse(bad).is_err(), "{bad}");
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
