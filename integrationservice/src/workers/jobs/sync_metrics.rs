//! `sync_metrics`: bring in the registrants that started at ON24 since the last sync, then
//! pull the webinar's attendee metrics. They are stored chunk by chunk as the report streams
//! in (never held whole); the sync is recorded as finished (and attendance outcomes settled)
//! with the job's completion. A long-tail pull the poller asked for reads only the attendees
//! active since the webinar's watermark (`domain::metrics::long_tail_window`). Once the sync
//! has ended well it stores the webinar's custom registration questions, read first when the
//! stored ones are stale (so the registrants brought in have their answers filed under
//! them), and reads the event's live times when the webinar has none (a linked one), so that
//! its attendance outcomes can settle in this same completion.

use super::{Call, finish};
use crate::domain::jobs::SyncMetricsPayload;
use crate::domain::metrics::{SyncScope, long_tail_window, read_up_to};
use crate::domain::{Error, registration_questions};
use crate::store::models::WebinarRow;
use crate::workers::execute::{Effect, Outcome};

pub(super) async fn run(
    call: Call<'_>,
    webinar: WebinarRow,
    event: i64,
    asked: Option<SyncMetricsPayload>,
) -> Result<Outcome, Error> {
    let at = crate::store::now_ms();
    let window = asked
        .filter(|a| a.long_tail)
        .and_then(|a| long_tail_window(webinar.metrics_watermark, a.at));
    // Stale questions are read first, so the registrants brought in have their answers
    // filed under them; they are stored with the sync's completion.
    let questions = if registration_questions::stale(webinar.questions_read_at, at) {
        registration_questions::read(call.engine, call.creds, event).await
    } else {
        None
    };
    let result = crate::domain::metrics::pull_and_store(
        call.engine,
        call.creds,
        &call.job.tenant_id(),
        &webinar.webinar(),
        event,
        SyncScope {
            registrants_since: webinar.last_metrics_at,
            activity: window,
            questions: questions.clone(),
        },
        at,
    )
    .await?;
    let mut times = None;
    if result.is_ok() && webinar.start_at == 0 {
        // A failed read leaves the times unknown; the next sync asks again.
        times = call
            .engine
            .provider()
            .get_event(call.creds, event)
            .await
            .ok()
            .and_then(|info| info.live_times());
    }
    Ok(finish(result, |_| Effect::MetricsSynced {
        webinar_id: webinar.webinar(),
        at,
        read_up_to: window.map_or_else(|| read_up_to(at), |w| w.until_ms),
        questions,
        times,
    }))
}
