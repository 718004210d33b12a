//! The values a webinar is made of, each checked once by its constructor against what ON24
//! accepts (its published contract, `AddEventForm`): a title, a description, a start, a
//! duration, a time zone, a language, an event type and the CRM's reference. A value of one of
//! these types is valid by construction, so the services never check it again.

use std::sync::LazyLock;

use super::Invalid;

/// True if `value` has a control character (none of our texts may carry one).
fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// A text of `min..=max` characters, no control characters, no surrounding blanks.
pub(crate) fn bounded_text(value: &str, min: usize, max: usize) -> Result<String, Invalid> {
    let count = value.chars().count();
    if count < min || count > max {
        return Err(Invalid::new(format!(
            "must be {min} to {max} characters long"
        )));
    }
    if has_control(value) {
        return Err(Invalid::new("must not contain control characters"));
    }
    if value.trim() != value {
        return Err(Invalid::new("must not start or end with blanks"));
    }
    Ok(value.to_owned())
}

/// A required text: blank is "required", otherwise [`bounded_text`].
pub(crate) fn required_text(value: &str, max: usize) -> Result<String, Invalid> {
    if value.trim().is_empty() {
        return Err(Invalid::new("required"));
    }
    bounded_text(value, 1, max)
}

/// An optional text of at most `max` characters; empty is `None`.
pub(crate) fn optional_text(value: &str, max: usize) -> Result<Option<String>, Invalid> {
    if value.is_empty() {
        return Ok(None);
    }
    bounded_text(value, 0, max).map(Some)
}

macro_rules! text_value {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The value, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_value!(
    /// The CRM's id of an event, session or contact: 1 to 128 characters of `[A-Za-z0-9._:-]`.
    CrmReference
);

impl CrmReference {
    /// Checks a reference; empty is "required".
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        if value.is_empty() {
            return Err(Invalid::new("required"));
        }
        let ok = value.len() <= 128
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(Invalid::new(
                "must be 1 to 128 characters of [A-Za-z0-9._:-]",
            ))
        }
    }

    /// An optional reference: empty is `None`.
    pub fn parse_optional(value: &str) -> Result<Option<Self>, Invalid> {
        if value.is_empty() {
            Ok(None)
        } else {
            Self::parse(value).map(Some)
        }
    }
}

text_value!(
    /// A webinar's title: 1 to 250 characters (ON24: "less than 251"), no control
    /// characters, no surrounding blanks.
    Title
);

impl Title {
    /// Checks a title.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        required_text(value, 250).map(Self)
    }
}

text_value!(
    /// A webinar's description (ON24 `eventAbstract`): at most 4,000 characters, no control
    /// characters, no surrounding blanks; empty means none.
    Description
);

impl Description {
    /// Checks a description; empty is `None`.
    pub fn parse(value: &str) -> Result<Option<Self>, Invalid> {
        Ok(optional_text(value, 4000)?.map(Self))
    }
}

/// A live start between 2000 and 2100, in milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartTime(i64);

impl StartTime {
    /// Checks a time given as seconds and nanoseconds since the epoch (a protobuf Timestamp).
    pub fn from_parts(seconds: i64, nanos: i32) -> Result<Self, Invalid> {
        const MIN: i64 = 946_684_800; // 2000-01-01
        const MAX: i64 = 4_102_444_800; // 2100-01-01
        if !(MIN..MAX).contains(&seconds) || !(0..1_000_000_000).contains(&nanos) {
            return Err(Invalid::new("must be a valid time between 2000 and 2100"));
        }
        Ok(Self(seconds * 1000 + i64::from(nanos) / 1_000_000))
    }

    /// Milliseconds since the epoch.
    pub fn as_millis(self) -> i64 {
        self.0
    }
}

/// ON24's live duration: 15 to 120 minutes in steps of 15, then up to 480 in steps of 30.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurationMinutes(u32);

impl DurationMinutes {
    /// Checks a duration.
    pub fn parse(minutes: i32) -> Result<Self, Invalid> {
        let ok = (15..=120).contains(&minutes) && minutes % 15 == 0
            || (150..=480).contains(&minutes) && minutes % 30 == 0;
        match u32::try_from(minutes) {
            Ok(m) if ok => Ok(Self(m)),
            _ => Err(Invalid::new(
                "must be 15 to 120 minutes in steps of 15, or up to 480 in steps of 30",
            )),
        }
    }

    /// The minutes.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// The time zones ON24 lists for an account, from its published contract.
static ON24_TIME_ZONES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    include_str!("on24_time_zones.txt")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

text_value!(
    /// A time zone ON24 accepts: one of the names its `timezones` helper lists (IANA names
    /// such as `Europe/Paris`, `US/Eastern` or `Cuba`, exactly as spelt there), or `UTC`.
    /// Abbreviations such as `EST` are not in ON24's list and are refused.
    TimeZone
);

impl TimeZone {
    /// Checks a time zone name.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        if value == "UTC" || ON24_TIME_ZONES.binary_search(&value).is_ok() {
            Ok(Self(value.to_owned()))
        } else {
            Err(Invalid::new(
                "must be a time zone ON24 lists, such as `Europe/Paris` or `UTC`",
            ))
        }
    }
}

text_value!(
    /// An ON24 language code (`languageCd`): 2 or 3 lowercase letters, optionally followed by
    /// `-` and a 2 to 8 character lowercase region or variant (`en`, `de`, `pt-br`). ON24's
    /// codes are short codes, so a language name such as `english` is refused.
    Language
);

impl Language {
    /// The language of a webinar that names none.
    pub fn english() -> Self {
        Self("en".into())
    }

    /// Checks a language code.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let (lang, region) = value.split_once('-').unwrap_or((value, ""));
        let ok = (2..=3).contains(&lang.len())
            && lang.bytes().all(|b| b.is_ascii_lowercase())
            && (region.is_empty()
                || (2..=8).contains(&region.len())
                    && region
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(Invalid::new(
                "must be a lowercase language code such as `en` or `pt-br`",
            ))
        }
    }

    /// An optional code: empty is `en`.
    pub fn parse_or_english(value: &str) -> Result<Self, Invalid> {
        if value.is_empty() {
            Ok(Self::english())
        } else {
            Self::parse(value)
        }
    }
}

text_value!(
    /// An ON24 event type code (`eventType`): up to 64 characters of `[A-Za-z0-9_-]`; empty
    /// means the account's default.
    EventType
);

impl EventType {
    /// Checks an event type code.
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let ok = value.len() <= 64
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(Invalid::new("must be 1 to 64 characters of [A-Za-z0-9_-]"))
        }
    }
}

/// A client-chosen request id that makes a create idempotent: a UUID, kept in its lowercase
/// hyphenated form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(uuid::Uuid);

impl RequestId {
    /// Checks a request id (any UUID spelling; stored lowercase and hyphenated).
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        uuid::Uuid::try_parse(value)
            .map(Self)
            .map_err(|_| Invalid::new("must be a UUID"))
    }

    /// An optional request id: empty is `None`.
    pub fn parse_optional(value: &str) -> Result<Option<Self>, Invalid> {
        if value.is_empty() {
            Ok(None)
        } else {
            Self::parse(value).map(Some)
        }
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_are_the_ones_on24_lists() {
        assert!(ON24_TIME_ZONES.windows(2).all(|w| w[0] < w[1]), "sorted");
        for ok in [
            "Europe/Paris",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+12",
            "US/Eastern",
            "Cuba",
            "EST5EDT",
            "GMT",
            "UTC",
        ] {
            assert!(TimeZone::parse(ok).is_ok(), "{ok}");
        }
        // `EST` is an abbreviation ON24 does not list (it lists `EST5EDT` and `US/Eastern`).
        for bad in [
            "EST",
            "",
            "europe/paris",
            "../etc",
            "Paris!",
            "Mars/Olympus",
        ] {
            assert!(TimeZone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn languages_are_short_codes() {
        for ok in ["en", "de", "pt-br", "zh-tw", "haw"] {
            assert!(Language::parse(ok).is_ok(), "{ok}");
        }
        // `english` is a language name, not one of ON24's codes.
        for bad in ["english", "EN", "English", "e", "-br", "en-b", "en_us", ""] {
            assert!(Language::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Language::parse_or_english("").ok(),
            Some(Language::english())
        );
    }

    #[test]
    fn durations_follow_on24() {
        for ok in [15, 30, 120, 150, 480] {
            assert!(DurationMinutes::parse(ok).is_ok(), "{ok}");
        }
        for bad in [0, -15, 10, 125, 135, 165, 510] {
            assert!(DurationMinutes::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn texts_and_codes() {
        assert!(Title::parse(" ").is_err());
        assert!(Title::parse(" a").is_err());
        assert!(Title::parse("a\u{7}").is_err());
        assert!(Title::parse(&"é".repeat(250)).is_ok());
        assert!(Title::parse(&"x".repeat(251)).is_err());
        assert_eq!(Description::parse("").ok(), Some(None));
        assert!(Description::parse(&"x".repeat(4001)).is_err());
        assert!(CrmReference::parse("crm:event_1.a-b").is_ok());
        assert!(CrmReference::parse("a b").is_err());
        assert!(CrmReference::parse("").is_err());
        assert_eq!(CrmReference::parse_optional("").ok(), Some(None));
        assert!(EventType::parse("simulive").is_ok());
        assert!(EventType::parse("").is_ok());
        assert!(EventType::parse("web cast").is_err());
        assert!(StartTime::from_parts(1_900_000_000, 0).is_ok());
        assert!(StartTime::from_parts(0, 0).is_err());
        assert!(StartTime::from_parts(1_900_000_000, -1).is_err());
        assert!(RequestId::parse("nope").is_err());
        assert_eq!(
            RequestId::parse("0190F0C4-8B7E-7C3A-9A53-4F1E2D3C4B5A")
                .map(|r| r.to_string())
                .ok()
                .as_deref(),
            Some("0190f0c4-8b7e-7c3a-9a53-4f1e2d3c4b5a")
        );
    }
}
