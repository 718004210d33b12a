//! `sync_metrics`: bring in the registrants that started at ON24 since the last sync, then
//! pull the webinar's attendee metrics. They are stored chunk by chunk as the report streams
//! in (never held whole); the sync is recorded as finished (and attendance outcomes settled)
//! with the job's completion.

use super::{Call, finish};
use crate::domain::Error;
use crate::store::models::WebinarRow;
use crate::workers::execute::{Effect, Outcome};

pub(super) async fn run(call: Call<'_>, webinar: WebinarRow, event: i64) -> Result<Outcome, Error> {
    let at = crate::store::now_ms();
    let result = crate::domain::metrics::pull_and_store(
        call.engine,
        call.creds,
        &call.job.tenant_id(),
        &webinar.webinar(),
        event,
        webinar.last_metrics_at,
        at,
    )
    .await?;
    Ok(finish(result, |_| Effect::MetricsSynced {
        webinar_id: webinar.webinar(),
        at,
    }))
}
