//! The change feed as one endless stream that survives disconnects: it calls `WatchChanges`,
//! remembers the cursor of every message (heartbeats included), and when the stream breaks
//! it calls again from that cursor after a back-off. The server guarantees nothing is missed
//! and nothing repeats when resuming from a cursor, so neither does this stream.

use std::time::Duration;

use futures::{Stream, stream};
use proto::webinar::v1::{self as pb, metrics_service_client::MetricsServiceClient};
use tonic::{Code, Streaming};

use crate::{ClientError, Connection, RetryPolicy, WebinarApi, names};

/// Consecutive failures of a kind that is not plainly "connection lost" before giving up.
const MAX_ODD_FAILURES: u32 = 5;

/// What to watch.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// Start after this cursor; empty means from the oldest retained change.
    pub after_cursor: String,
    /// Only this webinar (short id or full name).
    pub webinar: Option<String>,
}

struct State {
    conn: Connection,
    request: pb::WatchChangesRequest,
    stream: Option<Streaming<pb::WatchChangesResponse>>,
    failures: u32,
    odd_failures: u32,
    backoff: RetryPolicy,
    done: bool,
}

impl WebinarApi {
    /// Follows the tenant's change feed forever, resuming from the last cursor on disconnect.
    /// Each item is one server message: zero or more changes and the cursor after them (keep
    /// it to resume in a later process). Ends only on an error that retrying cannot fix.
    pub fn watch_changes(
        &self,
        options: WatchOptions,
    ) -> impl Stream<Item = Result<pb::WatchChangesResponse, ClientError>> + 'static {
        let request = pb::WatchChangesRequest {
            parent: names::tenant(self.tenant()),
            after_cursor: options.after_cursor,
            webinar: options
                .webinar
                .map(|w| self.webinar_name(&w))
                .unwrap_or_default(),
        };
        let state = State {
            conn: self.connection().clone(),
            request,
            stream: None,
            failures: 0,
            odd_failures: 0,
            backoff: RetryPolicy {
                max_attempts: u32::MAX,
                initial_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(30),
            },
            done: false,
        };
        stream::unfold(state, next)
    }
}

async fn next(mut state: State) -> Option<(Result<pb::WatchChangesResponse, ClientError>, State)> {
    loop {
        if state.done {
            return None;
        }
        if state.stream.is_none() {
            // No deadline on the stream itself: it is meant to stay open.
            let mut client = MetricsServiceClient::new(state.conn.service());
            match client
                .watch_changes(tonic::Request::new(state.request.clone()))
                .await
            {
                Ok(response) => state.stream = Some(response.into_inner()),
                Err(status) => {
                    if let Some(error) = should_stop(&mut state, status) {
                        return Some((Err(error), state));
                    }
                    pause(&mut state).await;
                    continue;
                }
            }
        }
        let Some(stream) = state.stream.as_mut() else {
            continue;
        };
        match stream.message().await {
            Ok(Some(message)) => {
                state.failures = 0;
                state.odd_failures = 0;
                if !message.cursor.is_empty() {
                    state.request.after_cursor = message.cursor.clone();
                }
                return Some((Ok(message), state));
            }
            Ok(None) => {
                // The server ended the stream (e.g. it is shutting down): resume.
                state.stream = None;
                pause(&mut state).await;
            }
            Err(status) => {
                state.stream = None;
                if let Some(error) = should_stop(&mut state, status) {
                    return Some((Err(error), state));
                }
                pause(&mut state).await;
            }
        }
    }
}

/// Decides whether a failure ends the stream; counts it otherwise.
fn should_stop(state: &mut State, status: tonic::Status) -> Option<ClientError> {
    match status.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => None,
        // A connection reset mid-stream surfaces as UNKNOWN/INTERNAL (h2 errors); allow a few.
        Code::Unknown | Code::Internal | Code::Aborted | Code::ResourceExhausted
            if state.odd_failures < MAX_ODD_FAILURES =>
        {
            state.odd_failures += 1;
            None
        }
        _ => {
            state.done = true;
            Some(status.into())
        }
    }
}

async fn pause(state: &mut State) {
    let delay = state.backoff.backoff(state.failures);
    state.failures = state.failures.saturating_add(1);
    tracing::debug!(?delay, cursor = %state.request.after_cursor, "change feed: reconnecting");
    tokio::time::sleep(delay).await;
}
