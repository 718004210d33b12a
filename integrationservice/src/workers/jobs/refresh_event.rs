//! `refresh_event`: read a linked webinar's event (URLs, times) and its custom registration
//! questions from the provider.

use super::{Call, finish};
use crate::domain::{Error, registration_questions};
use crate::store::models::WebinarRow;
use crate::workers::execute::{Effect, Outcome};

pub(super) async fn run(call: Call<'_>, webinar: WebinarRow, event: i64) -> Result<Outcome, Error> {
    let result = call.engine.provider().get_event(call.creds, event).await;
    let questions = match result {
        Ok(_) => registration_questions::read(call.engine, call.creds, event).await,
        Err(_) => None,
    };
    Ok(finish(result, |info| Effect::EventReady {
        webinar_id: webinar.webinar(),
        info,
        questions,
    }))
}
