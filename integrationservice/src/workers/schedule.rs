//! ON24's data freshness as a schedule: attendance appears 30 minutes to 2 hours after the
//! live end and on-demand viewing 4 to 12 hours after, so the poller pulls a webinar's metrics
//! at configured offsets after its end instead of hammering the API. Registrants appear in
//! about 15 minutes, which is why the first pull is not before the end either.

use std::time::Duration;

/// Offsets after a webinar's live end at which its metrics are pulled.
#[derive(Clone, Debug)]
pub struct MetricsSchedule {
    /// Ascending offsets after the live end.
    pub after_end: Vec<Duration>,
}

impl Default for MetricsSchedule {
    fn default() -> Self {
        let m = |mins: u64| Duration::from_secs(mins * 60);
        Self {
            // live attendance (30 min – 2 h), then on-demand viewing (4 – 12 h), then a day on
            after_end: vec![m(30), m(120), m(240), m(720), m(1440)],
        }
    }
}

impl MetricsSchedule {
    /// The first pull time strictly after `now` for a webinar that ends at `end` (ms), or
    /// None once the schedule is over (on-demand syncs still work).
    pub fn next_after(&self, end: i64, now: i64) -> Option<i64> {
        self.after_end
            .iter()
            .map(|d| end.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
            .find(|t| *t > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_freshness_offsets() {
        let s = MetricsSchedule::default();
        let end = 1_000_000_000;
        let min = 60_000;
        assert_eq!(s.next_after(end, end - 1), Some(end + 30 * min));
        assert_eq!(s.next_after(end, end + 30 * min), Some(end + 120 * min));
        assert_eq!(s.next_after(end, end + 1000 * min), Some(end + 1440 * min));
        assert_eq!(s.next_after(end, end + 1440 * min), None);
    }
}
