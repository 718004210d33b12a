//! `create_event`: create the webinar at the provider. ON24 cannot make a creation idempotent,
//! so a run that may follow an earlier one (see `execute::may_have_run_before`) first looks
//! for a webinar carrying our marker and adopts it rather than creating a second.

use super::{Call, finish};
use crate::domain::{Error, registration_questions};
use crate::store::models::WebinarRow;
use crate::workers::execute::{Effect, Outcome, event_spec, may_have_run_before};

pub(super) async fn run(call: Call<'_>, webinar: WebinarRow) -> Result<Outcome, Error> {
    if webinar.on24_event_id.is_some() {
        return Ok(Outcome::Done(Effect::Nothing));
    }
    let provider = call.engine.provider();
    let spec = event_spec(&webinar);
    if may_have_run_before(call.job) {
        match provider
            .find_event(call.creds, &spec, call.job.created_at)
            .await
        {
            Ok(Some(info)) => {
                tracing::info!(
                    job = call.job.id,
                    on24.event_id = info.event_id,
                    "adopting the webinar an earlier run created"
                );
                let questions =
                    registration_questions::read(call.engine, call.creds, info.event_id).await;
                return Ok(Outcome::Done(Effect::EventReady {
                    webinar_id: webinar.webinar(),
                    info,
                    questions,
                }));
            }
            Ok(None) => {}
            // Creating without knowing could duplicate: retry the look-up later.
            Err(e) => return Ok(Outcome::Failed(e)),
        }
    }
    let result = provider.create_event(call.creds, &spec).await;
    // A new event has ON24's standard fields only; reading them now still tells the CRM
    // that there are no custom questions yet (rather than "not read").
    let questions = match &result {
        Ok(info) => registration_questions::read(call.engine, call.creds, info.event_id).await,
        Err(_) => None,
    };
    Ok(finish(result, |info| Effect::EventReady {
        webinar_id: webinar.webinar(),
        info,
        questions,
    }))
}
