//! Exponential back-off with full jitter for retried deliveries, and the longer, growing pause
//! a tenant gets when the provider says its call budget is spent (ON24 sends no Retry-After,
//! so the pause is blind and grows while the quota answers continue).

use std::time::Duration;

use rand::Rng;

/// Back-off settings.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// Delay before the first retry.
    pub base: Duration,
    /// Longest delay between attempts.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// Delay after `attempts` failed attempts: a random point in [cap/2, cap] where
    /// cap = min(max, base * 2^(attempts-1)). Half is kept so retries do not bunch at zero.
    pub fn delay(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(30);
        let cap = self.base.saturating_mul(1u32 << exp).min(self.max);
        let half = cap / 2;
        let spread = u64::try_from((cap - half).as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(rand::rng().random_range(0..=spread))
    }
}

/// The pause of a tenant after its `level`-th consecutive quota answer.
pub(crate) fn quota_pause(base: Duration, max: Duration, level: u32) -> Duration {
    base.saturating_mul(1u32 << level.min(20)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_is_capped() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        for _ in 0..100 {
            let d1 = b.delay(1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = b.delay(3);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            assert!(b.delay(40) <= Duration::from_secs(1));
        }
        assert_eq!(
            quota_pause(Duration::from_secs(1), Duration::from_secs(10), 2),
            Duration::from_secs(4)
        );
        assert_eq!(
            quota_pause(Duration::from_secs(1), Duration::from_secs(10), 9),
            Duration::from_secs(10)
        );
    }
}
