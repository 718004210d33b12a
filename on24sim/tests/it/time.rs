//! Pacific Time handling (no tz database in the workspace) and ON24's minute rounding.

use chrono::{TimeZone, Utc};
use on24sim::state::time::{iso_pacific, parse_live_start, wcc_pacific};
use on24sim::state::viewing::round_minutes;

#[test]
fn pacific_offsets_follow_us_daylight_rules() {
    // 2030: DST from Sunday 10 March 10:00 UTC to Sunday 3 November 09:00 UTC.
    let before = Utc
        .with_ymd_and_hms(2030, 3, 10, 9, 59, 0)
        .single()
        .expect("time");
    let after = Utc
        .with_ymd_and_hms(2030, 3, 10, 10, 0, 0)
        .single()
        .expect("time");
    assert_eq!(iso_pacific(before), "2030-03-10T01:59:00-08:00");
    assert_eq!(iso_pacific(after), "2030-03-10T03:00:00-07:00");
    let end = Utc
        .with_ymd_and_hms(2030, 11, 3, 9, 0, 0)
        .single()
        .expect("time");
    assert_eq!(iso_pacific(end), "2030-11-03T01:00:00-08:00");
    assert_eq!(wcc_pacific(after), "03/10/2030 03:00 AM");
}

#[test]
fn live_start_formats() {
    let want = Utc
        .with_ymd_and_hms(2018, 4, 4, 14, 12, 41)
        .single()
        .expect("time");
    assert_eq!(
        parse_live_start("Wed Apr 04 2018 16:12:41 GMT+0200 (CEST)"),
        Some(want)
    );
    assert_eq!(
        parse_live_start("2018-04-04T07:12:41"),
        Some(want),
        "naive times are Pacific (PDT here)"
    );
    assert_eq!(parse_live_start("2018-04-04T14:12:41+00:00"), Some(want));
    assert_eq!(
        parse_live_start("12/20/2017 08:45 PM"),
        Utc.with_ymd_and_hms(2017, 12, 21, 4, 45, 0).single()
    );
    assert_eq!(parse_live_start("next tuesday"), None);
}

#[test]
fn minutes_round_to_nearest_but_never_below_one() {
    assert_eq!(round_minutes(0), 0);
    assert_eq!(round_minutes(1), 1);
    assert_eq!(round_minutes(59), 1);
    assert_eq!(round_minutes(139), 2); // 2.316
    assert_eq!(round_minutes(213), 4); // 3.55
    assert_eq!(round_minutes(150), 3); // 2.5
}
