//! ON24's data freshness as a schedule: attendance appears 30 minutes to 2 hours after the
//! live end and on-demand viewing 4 to 12 hours after, so the poller pulls a webinar's metrics
//! at configured offsets after its end instead of hammering the API. Registrants appear in
//! about 15 minutes, which is why the first pull is not before the end either.
//!
//! Recordings stay viewable for months, so after those offsets the pulls go on for a long tail
//! (90 days by default) at gaps that double from a day up to a cap (a week by default). Those
//! long-tail pulls read only the attendees active since the last read (ON24's attendee date
//! filter), so they stay cheap however big the webinar.

use std::time::Duration;

/// One day.
const DAY: Duration = Duration::from_secs(86_400);

/// When a webinar's metrics are pulled after its live end.
#[derive(Clone, Debug)]
pub struct MetricsSchedule {
    /// Ascending offsets after the live end: full reads while the live and first on-demand
    /// figures settle.
    pub after_end: Vec<Duration>,
    /// How long after the live end long-tail pulls go on (zero: none).
    pub long_tail: Duration,
    /// The longest gap between two long-tail pulls (the first is a day, each next doubles).
    pub long_tail_max_gap: Duration,
}

impl Default for MetricsSchedule {
    fn default() -> Self {
        let m = |mins: u64| Duration::from_secs(mins * 60);
        Self {
            // live attendance (30 min – 2 h), then on-demand viewing (4 – 12 h), then a day on
            after_end: vec![m(30), m(120), m(240), m(720), m(1440)],
            long_tail: DAY * 90,
            long_tail_max_gap: DAY * 7,
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl MetricsSchedule {
    /// The last offset of the full reads after the live end (zero when there is none).
    fn live_span(&self) -> i64 {
        self.after_end.last().copied().map_or(0, ms)
    }

    /// Offsets (ms after the live end) of the long-tail pulls, ascending: gaps from a day,
    /// doubling, capped at `long_tail_max_gap`, and a last pull at the end of the period.
    fn long_tail_offsets(&self) -> Vec<i64> {
        let (span, period) = (self.live_span(), ms(self.long_tail));
        let max_gap = ms(self.long_tail_max_gap.max(Duration::from_secs(60)));
        let mut out = Vec::new();
        let (mut at, mut gap) = (span, ms(DAY).min(max_gap));
        while at < period {
            at = at.saturating_add(gap).min(period);
            out.push(at);
            gap = gap.saturating_mul(2).min(max_gap);
        }
        out
    }

    /// The first pull time strictly after `now` for a webinar that ends at `end` (ms), or
    /// None once the schedule is over (on-demand syncs still work).
    pub fn next_after(&self, end: i64, now: i64) -> Option<i64> {
        self.after_end
            .iter()
            .map(|d| ms(*d))
            .chain(self.long_tail_offsets())
            .map(|offset| end.saturating_add(offset))
            .find(|t| *t > now)
    }

    /// Whether a pull at `now` for a webinar that ends at `end` is in the long tail (after
    /// the full reads), where it reads only the attendees active since the last read.
    pub fn is_long_tail(&self, end: i64, now: i64) -> bool {
        !self.long_tail.is_zero() && now > end.saturating_add(self.live_span())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const DAY_MS: i64 = 1440 * MIN;

    #[test]
    fn follows_the_freshness_offsets() {
        let s = MetricsSchedule {
            long_tail: Duration::ZERO,
            ..MetricsSchedule::default()
        };
        let end = 1_000_000_000;
        assert_eq!(s.next_after(end, end - 1), Some(end + 30 * MIN));
        assert_eq!(s.next_after(end, end + 30 * MIN), Some(end + 120 * MIN));
        assert_eq!(s.next_after(end, end + 1000 * MIN), Some(end + 1440 * MIN));
        assert_eq!(s.next_after(end, end + 1440 * MIN), None);
        assert!(!s.is_long_tail(end, end + 90 * DAY_MS));
    }

    #[test]
    fn the_long_tail_decays_to_weekly_until_its_end() {
        let s = MetricsSchedule::default();
        let end = 1_000_000_000;
        let slots: Vec<i64> =
            std::iter::successors(s.next_after(end, end + DAY_MS), |t| s.next_after(end, *t))
                .map(|t| (t - end) / DAY_MS)
                .collect();
        assert_eq!(
            slots,
            [2, 4, 8, 15, 22, 29, 36, 43, 50, 57, 64, 71, 78, 85, 90]
        );
        assert!(!s.is_long_tail(end, end + DAY_MS));
        assert!(s.is_long_tail(end, end + 2 * DAY_MS));
        // A pull 40 days after the end has one more 3 days later.
        assert_eq!(
            s.next_after(end, end + 40 * DAY_MS),
            Some(end + 43 * DAY_MS)
        );
        assert_eq!(s.next_after(end, end + 90 * DAY_MS), None);
    }
}
