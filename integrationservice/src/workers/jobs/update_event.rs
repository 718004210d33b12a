//! `update_event`: push a webinar's changed fields to its provider event.

use super::{Call, finish};
use crate::domain::Error;
use crate::store::models::WebinarRow;
use crate::workers::execute::{Effect, Outcome, event_spec};

pub(super) async fn run(call: Call<'_>, webinar: WebinarRow, event: i64) -> Result<Outcome, Error> {
    let result = call
        .engine
        .provider()
        .update_event(call.creds, event, &event_spec(&webinar))
        .await;
    Ok(finish(result, |()| Effect::Nothing))
}
