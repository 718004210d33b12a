//! `refresh_event`: read a linked webinar's event (URLs, times) from the provider.

use super::{Call, finish};
use crate::domain::Error;
use crate::store::models::WebinarRow;
use crate::workers::execute::{Effect, Outcome};

pub(super) async fn run(call: Call<'_>, webinar: WebinarRow, event: i64) -> Result<Outcome, Error> {
    let result = call.engine.provider().get_event(call.creds, event).await;
    Ok(finish(result, |info| Effect::EventReady {
        webinar_id: webinar.webinar(),
        info,
    }))
}
