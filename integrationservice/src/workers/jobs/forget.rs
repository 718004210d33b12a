//! `forget`: erase people at the provider (GDPR). The job row is deleted once the provider
//! confirmed, so the addresses in its payload do not outlive the request.

use super::{Call, ForgetPayload, finish};
use crate::domain::Error;
use crate::workers::execute::{Effect, Outcome};

pub(super) async fn run(call: Call<'_>, payload: &ForgetPayload) -> Result<Outcome, Error> {
    let result = call
        .engine
        .provider()
        .forget(call.creds, &payload.emails)
        .await;
    Ok(finish(result, |()| Effect::Nothing))
}
