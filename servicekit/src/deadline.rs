//! The server side of gRPC deadlines: a call still unanswered when the caller's deadline
//! (`grpc-timeout`) or the server's own cap passes is answered `DEADLINE_EXCEEDED`, the code
//! the gRPC specification gives it, so that clients generated in any language see the same
//! code whether their own timer or the server's fired first.
//!
//! tonic enforces `grpc-timeout` too, but answers `CANCELLED` ("Timeout expired"). Its timer
//! sits outside every layer a server adds, and is started before this one, so this layer
//! fires [`AHEAD`] earlier: when both are due in the same timer tick, tonic polls the inner
//! service (this layer) first and takes its answer.
//!
//! Only the wait for the response head is bounded, as in tonic: a server stream, once
//! started, runs until it ends or the caller goes away.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use http::HeaderMap;

/// How much earlier than the deadline this layer answers (see the module documentation).
const AHEAD: Duration = Duration::from_millis(1);

/// Bounds each call by the caller's `grpc-timeout` and by `max`, whichever is shorter.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer {
    max: Duration,
}

impl DeadlineLayer {
    /// A layer that never lets a call wait longer than `max` for its answer, nor past the
    /// caller's own deadline.
    pub fn new(max: Duration) -> Self {
        Self { max }
    }
}

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeadlineService {
            inner,
            max: self.max,
        }
    }
}

/// The service [`DeadlineLayer`] wraps around a tonic router.
#[derive(Debug, Clone)]
pub struct DeadlineService<S> {
    inner: S,
    max: Duration,
}

impl<S, ReqBody> tower::Service<http::Request<ReqBody>> for DeadlineService<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        // A malformed header is left to tonic, which answers it; here it means no deadline
        // beyond the server's cap.
        let budget = requested_timeout(request.headers())
            .map_or(self.max, |requested| requested.min(self.max))
            .saturating_sub(AHEAD);
        let answer = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(budget, answer).await {
                Ok(result) => result,
                Err(_elapsed) => Ok(tonic::Status::deadline_exceeded(
                    "the call's deadline passed before it was answered",
                )
                .into_http()),
            }
        })
    }
}

/// The caller's `grpc-timeout`: at most eight digits and a unit (H, M, S, m, u, n), as the
/// gRPC over HTTP/2 specification writes it. `None` when absent or malformed.
fn requested_timeout(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get("grpc-timeout")?.to_str().ok()?;
    let unit_at = text.len().checked_sub(1)?;
    let (digits, unit) = text.split_at(unit_at);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(value * 3600),
        "M" => Duration::from_secs(value * 60),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert("grpc-timeout", value.parse().expect("header value"));
        map
    }

    #[test]
    fn reads_every_unit_of_the_specification() {
        for (text, expected) in [
            ("2H", Duration::from_secs(7200)),
            ("3M", Duration::from_secs(180)),
            ("5S", Duration::from_secs(5)),
            ("250m", Duration::from_millis(250)),
            ("7u", Duration::from_micros(7)),
            ("99999999n", Duration::from_nanos(99_999_999)),
        ] {
            assert_eq!(requested_timeout(&headers(text)), Some(expected), "{text}");
        }
    }

    #[test]
    fn malformed_or_absent_is_no_deadline() {
        for text in ["", "S", "123456789S", "10s", "-1S", "1.5S", "+5S"] {
            assert_eq!(requested_timeout(&headers(text)), None, "{text:?}");
        }
        assert_eq!(requested_timeout(&HeaderMap::new()), None);
    }
}
