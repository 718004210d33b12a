//! Retries with exponential back-off and full jitter, for idempotent calls only, and only on
//! UNAVAILABLE (the service is starting, overloaded, or the connection broke before the call
//! was processed). Other errors are answers, not accidents, and are returned at once.

use std::{future::Future, time::Duration};

use rand::Rng;
use tonic::{Code, Status};

use crate::ClientError;

/// How often and how patiently to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, including the first; 1 disables retries.
    pub max_attempts: u32,
    /// Back-off ceiling before the first retry; doubles each time.
    pub initial_backoff: Duration,
    /// Largest back-off.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// No retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The pause before retry number `retry` (0-based): uniform in `[0, min(max, base*2^retry)]`,
    /// so many clients that failed together do not come back together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32 << retry.min(20))
            .min(self.max_backoff);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }
}

/// Whether a call may be repeated without changing the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Safe to repeat (reads, upserts, creates carrying a request id or natural key).
    Idempotent,
    /// Not safe to repeat (e.g. `RotateKey` would rotate twice).
    NotIdempotent,
}

/// Runs `call` and, if idempotent, repeats it on UNAVAILABLE following `policy`.
pub async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    idempotency: Idempotency,
    mut call: F,
) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let attempts = match idempotency {
        Idempotency::Idempotent => policy.max_attempts.max(1),
        Idempotency::NotIdempotent => 1,
    };
    let mut retry = 0;
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(status) if status.code() == Code::Unavailable && retry + 1 < attempts => {
                tracing::debug!(retry, message = status.message(), "UNAVAILABLE, retrying");
                tokio::time::sleep(policy.backoff(retry)).await;
                retry += 1;
            }
            Err(status) => return Err(status.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        }
    }

    #[tokio::test]
    async fn idempotent_calls_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let result = with_retries(&fast(), Idempotency::Idempotent, || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(Status::unavailable("starting"))
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!(result.ok(), Some(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn other_calls_and_other_codes_are_not_retried() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retries(&fast(), Idempotency::NotIdempotent, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Status::unavailable("down"))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retries(&fast(), Idempotency::Idempotent, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Status::invalid_argument("bad"))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn backoff_stays_under_the_ceiling() {
        let policy = fast();
        for retry in 0..30 {
            assert!(policy.backoff(retry) <= Duration::from_millis(2));
        }
    }
}
