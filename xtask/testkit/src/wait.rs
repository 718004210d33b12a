//! Waiting on an observable condition with a deadline: the one way tests wait.
//!
//! A probe is polled until it reports success; after the deadline the test fails with a
//! message that names what was awaited and the probe's last answer. Tests never sleep for a
//! fixed time hoping something happened.

use std::{
    fmt::{Debug, Display},
    future::Future,
    time::{Duration, Instant},
};

/// How often a probe is polled.
const POLL: Duration = Duration::from_millis(25);

/// What a probe answers: `true`, `Some(value)` or `Ok(value)` end the wait; `false`, `None`
/// or `Err(e)` mean "not yet" (an error's text is kept for the failure message).
pub trait Condition {
    /// What the wait returns once the condition holds.
    type Output;
    /// `Ok` when the condition holds; otherwise what to show if the deadline passes.
    fn check(self) -> Result<Self::Output, Option<String>>;
}

impl Condition for bool {
    type Output = ();
    fn check(self) -> Result<(), Option<String>> {
        if self { Ok(()) } else { Err(None) }
    }
}

impl<T> Condition for Option<T> {
    type Output = T;
    fn check(self) -> Result<T, Option<String>> {
        self.ok_or(None)
    }
}

impl<T, E: Debug> Condition for Result<T, E> {
    type Output = T;
    fn check(self) -> Result<T, Option<String>> {
        self.map_err(|e| Some(format!("{e:?}")))
    }
}

fn timed_out(what: &dyn Display, within: Duration, last: Option<String>) -> ! {
    match last {
        Some(last) => panic!("timed out after {within:?} waiting for {what}; last answer: {last}"),
        None => panic!("timed out after {within:?} waiting for {what}"),
    }
}

/// Polls the async `probe` until its answer holds and returns the value it carries; fails the
/// test naming `what` if that takes longer than `within`.
pub async fn eventually<C, F, Fut>(what: impl Display, within: Duration, probe: F) -> C::Output
where
    C: Condition,
    F: FnMut() -> Fut,
    Fut: Future<Output = C>,
{
    match wait_for(within, probe).await {
        Ok(value) => value,
        Err(last) => timed_out(&what, within, last),
    }
}

/// Like [`eventually`] but hands the timeout back (with the probe's last answer) so the
/// caller can gather more evidence before failing.
pub async fn wait_for<C, F, Fut>(
    within: Duration,
    mut probe: F,
) -> Result<C::Output, Option<String>>
where
    C: Condition,
    F: FnMut() -> Fut,
    Fut: Future<Output = C>,
{
    let deadline = Instant::now() + within;
    loop {
        let last = match probe().await.check() {
            Ok(value) => return Ok(value),
            Err(last) => last,
        };
        if Instant::now() >= deadline {
            return Err(last);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// [`eventually`] for blocking code: polls `probe` on this thread.
pub fn eventually_sync<C, F>(what: impl Display, within: Duration, mut probe: F) -> C::Output
where
    C: Condition,
    F: FnMut() -> C,
{
    let deadline = Instant::now() + within;
    loop {
        let last = match probe().check() {
            Ok(value) => return value,
            Err(last) => last,
        };
        if Instant::now() >= deadline {
            timed_out(&what, within, last);
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_what_the_probe_found() {
        let mut n = 0;
        let found = eventually_sync("the third poll", Duration::from_secs(5), || {
            n += 1;
            (n == 3).then_some(n)
        });
        assert_eq!(found, 3);
    }

    #[test]
    #[should_panic(expected = "waiting for the impossible; last answer: \"no\"")]
    fn names_what_was_awaited_and_the_last_answer() {
        eventually_sync("the impossible", Duration::from_millis(60), || {
            Err::<(), _>("no")
        });
    }

    #[tokio::test]
    async fn waits_on_async_probes() {
        let started = Instant::now();
        eventually("a tenth of a second", Duration::from_secs(5), || async {
            started.elapsed() >= Duration::from_millis(100)
        })
        .await;
    }
}
