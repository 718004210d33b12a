//! The text of one chained record: `{"seq":N,"time":"…","boot":"…",<members>,"prev":"…",
//! "mac":"…"}` where `mac` is the chain HMAC of everything before `,"mac"` (closed with `}`)
//! and `prev` is the `mac` of the chain's previous record. Helpers here write members exactly
//! as `serde_json` would, without its per-field machinery: records are on hot paths.

use std::io::Write as _;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `prev` of the first record of a chain that continues nothing.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a service appends to the chain: its own members of the record.
pub trait AuditRecord {
    /// Appends the record's members, each as `,"name":value` (see [`member`] and
    /// [`number_member`]); the chain writes `seq`, `time`, `boot` before and `prev`, `mac`
    /// after them.
    fn write_members(&self, out: &mut Vec<u8>);
}

/// Writes `,"name":"value"` with the value escaped as serde_json escapes it.
pub fn member(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    // Hex, ids and names need no escaping; anything else (a CN with a quote, say) goes
    // through serde_json so the line stays valid JSON.
    if value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, value).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

/// Writes `,"name":N`.
pub fn number_member(out: &mut Vec<u8>, name: &str, value: u64) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{value}");
}

/// Lower-case hex of a 32-byte MAC or hash.
pub fn hex32(bytes: &[u8; 32]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
    }
    out
}

/// The hex HMAC of `data` under a keyed state made once (cloning it saves re-keying).
pub(crate) fn mac_hex(keyed: &Hmac<Sha256>, data: &[u8]) -> [u8; 64] {
    let mut mac = keyed.clone();
    mac.update(data);
    hex32(&mac.finalize().into_bytes().into())
}

/// Appends one chained line (and a newline) to `out`; returns its `mac` (hex).
pub(crate) fn write_line(
    out: &mut Vec<u8>,
    keyed: &Hmac<Sha256>,
    head: &LineHead<'_>,
    record: &dyn AuditRecord,
    prev: &[u8; 64],
) -> [u8; 64] {
    let start = out.len();
    out.extend_from_slice(b"{\"seq\":");
    let _ = write!(out, "{}", head.seq);
    member(out, "time", head.time);
    out.extend_from_slice(b",\"boot\":\"");
    out.extend_from_slice(head.boot);
    out.push(b'"');
    record.write_members(out);
    out.extend_from_slice(b",\"prev\":\"");
    out.extend_from_slice(prev);
    out.extend_from_slice(b"\"}");
    let mac = mac_hex(keyed, &out[start..]);
    // The mac member goes inside the object: replace the closing brace.
    out.pop();
    out.extend_from_slice(b",\"mac\":\"");
    out.extend_from_slice(&mac);
    out.extend_from_slice(b"\"}\n");
    mac
}

/// A record's `time`: RFC 3339 in UTC with microseconds, exactly as chrono writes it with
/// `SecondsFormat::Micros` and `Z` (`2026-12-07T12:16:08.123456Z`). Every record takes one,
/// so chrono formats the date and time of day once per second per thread and the
/// microseconds are appended by hand.
pub(crate) enum RecordTime {
    /// The usual 27 bytes.
    Short([u8; 27]),
    /// Anything else (years past 9999, a leap second), from chrono.
    Long(String),
}

impl RecordTime {
    pub(crate) fn at(now: chrono::DateTime<chrono::Utc>) -> Self {
        use std::cell::Cell;
        thread_local! {
            /// The second formatted last, and its `YYYY-MM-DDTHH:MM:SS`.
            static SECOND: Cell<Option<(i64, [u8; 19])>> = const { Cell::new(None) };
        }
        let second = now.timestamp();
        let prefix = SECOND.with(|cached| match cached.get() {
            Some((at, prefix)) if at == second => Some(prefix),
            _ => {
                let text = now.format("%Y-%m-%dT%H:%M:%S").to_string();
                let prefix: [u8; 19] = text.as_bytes().try_into().ok()?;
                cached.set(Some((second, prefix)));
                Some(prefix)
            }
        });
        // A leap second shares its timestamp with the second before it: chrono writes it.
        let micros = now.timestamp_subsec_micros();
        let (Some(prefix), true) = (prefix, micros < 1_000_000) else {
            return Self::Long(now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        };
        let mut text = [0u8; 27];
        text[..19].copy_from_slice(&prefix);
        text[19] = b'.';
        let mut micros = micros;
        for digit in text[20..26].iter_mut().rev() {
            // A decimal digit: always below 10.
            *digit = b'0' + (micros % 10) as u8;
            micros /= 10;
        }
        text[26] = b'Z';
        Self::Short(text)
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Only ASCII is ever written into it.
            Self::Short(text) => std::str::from_utf8(text).unwrap_or_default(),
            Self::Long(text) => text,
        }
    }
}

/// The members every line starts with.
pub(crate) struct LineHead<'a> {
    pub seq: u64,
    pub time: &'a str,
    /// The boot id, 32 hex characters.
    pub boot: &'a [u8],
}

/// Splits a line into (body without its mac member, claimed mac).
pub(crate) fn split_line(line: &str) -> Option<(String, &str)> {
    const MARK: &str = ",\"mac\":\"";
    let rest = line.strip_suffix("\"}")?;
    let at = rest.rfind(MARK)?;
    let mac = &rest[at + MARK.len()..];
    (mac.len() == 64).then(|| (format!("{}}}", &rest[..at]), mac))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};

    use super::RecordTime;

    /// The hand-made time is chrono's, to the byte, including the second's cache.
    #[test]
    fn record_time_matches_chrono() {
        let at = |secs: i64, nanos: u32| Utc.timestamp_opt(secs, nanos).single();
        let leap_second = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 1_500_000))
            .map(|t| t.and_utc());
        let instants = [
            Some(Utc::now()),
            at(0, 0),
            at(1_796_651_768, 123_456_789),
            at(1_796_651_768, 999_999_999),
            at(1_796_651_769, 1_000),
            leap_second,
            at(300_000_000_000, 42_000),
        ];
        assert!(instants.iter().all(Option::is_some));
        for now in instants.into_iter().flatten() {
            assert_eq!(
                RecordTime::at(now).as_str(),
                now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            );
        }
    }
}
