//! Time as ON24 writes it: `liveStart` input formats (with Pacific Time as the default zone),
//! Event Management's `MM/dd/yyyy hh:mm a` output and Analytics' ISO-8601 with Pacific offset.
//! The US Pacific rules are written out here because the workspace carries no time-zone database.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, Utc, Weekday};

const PST: i32 = -8 * 3600;
const PDT: i32 = -7 * 3600;

/// The n-th (1-based) given weekday of a month.
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default())
}

/// US daylight time runs from the second Sunday of March, 02:00 PST (10:00 UTC), to the first
/// Sunday of November, 02:00 PDT (09:00 UTC).
fn pacific_offset_at(utc: DateTime<Utc>) -> FixedOffset {
    let y = utc.year();
    let start = nth_weekday(y, 3, Weekday::Sun, 2)
        .and_hms_opt(10, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let end = nth_weekday(y, 11, Weekday::Sun, 1)
        .and_hms_opt(9, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let secs = if utc >= start && utc < end { PDT } else { PST };
    // Both constants are within chrono's +-24h range.
    FixedOffset::east_opt(secs).expect("Pacific offsets are valid")
}

/// A wall-clock time in Pacific Time as an instant (standard time is assumed in the hour that
/// does not exist or repeats at a change-over).
pub fn from_pacific(local: NaiveDateTime) -> DateTime<Utc> {
    let as_std = local - Duration::seconds(i64::from(PST));
    let guess = as_std.and_utc();
    let off = pacific_offset_at(guess);
    (local - Duration::seconds(i64::from(off.local_minus_utc()))).and_utc()
}

/// ISO-8601 with the Pacific offset, as ON24's analytics write dates.
pub fn iso_pacific(t: DateTime<Utc>) -> String {
    t.with_timezone(&pacific_offset_at(t))
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// `MM/dd/yyyy hh:mm a` in Pacific Time, as Event Management writes dates.
pub fn wcc_pacific(t: DateTime<Utc>) -> String {
    t.with_timezone(&pacific_offset_at(t))
        .format("%m/%d/%Y %I:%M %p")
        .to_string()
}

/// `liveStart` in one of the formats the contract lists:
/// `MM/DD/YYYY hh:mm a`, `YYYY-MM-DDThh:mm:ss` (Pacific), `YYYY-MM-DDThh:mm:ss±zz:zz`, and
/// JavaScript's `Date.toString()` (`Wed Apr 04 2018 16:12:41 GMT+0200 (CEST)`).
pub fn parse_live_start(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(n) = NaiveDateTime::parse_from_str(s, "%m/%d/%Y %I:%M %p") {
        return Some(from_pacific(n));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%:z") {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(n) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S") {
        return Some(from_pacific(n));
    }
    // JavaScript: drop the trailing "(zone name)", then parse "GMT+0200".
    let js = s.split(" (").next().unwrap_or(s);
    if let Ok(t) = DateTime::parse_from_str(js, "%a %b %d %Y %H:%M:%S GMT%z") {
        return Some(t.with_timezone(&Utc));
    }
    None
}

/// A `startDate`/`endDate` query value: a date (`2007-12-03`, the start of that day in Pacific
/// Time) or any `liveStart` format. `end_of_day` makes a bare date inclusive of the whole day.
pub fn parse_query_date(s: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    if let Ok(d) = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        let start = from_pacific(d.and_hms_opt(0, 0, 0)?);
        return Some(if end_of_day {
            start + Duration::days(1) - Duration::seconds(1)
        } else {
            start
        });
    }
    parse_live_start(s)
}

/// `hh:mm:ss` for a number of seconds, as attendee sessions write durations.
pub fn hms(secs: i64) -> String {
    let s = secs.max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}
