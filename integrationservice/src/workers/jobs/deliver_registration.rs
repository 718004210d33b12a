//! `deliver_registration`: register a person at the provider; its `eventuserid` is recorded.

use super::{Call, finish, registrant};
use crate::domain::Error;
use crate::store::models::RegistrationRow;
use crate::workers::execute::{Effect, Outcome};

pub(super) async fn run(
    call: Call<'_>,
    event: i64,
    reg: RegistrationRow,
) -> Result<Outcome, Error> {
    let result = call
        .engine
        .provider()
        .register(call.creds, event, &registrant(&reg))
        .await;
    Ok(finish(result, |eventuserid| Effect::Delivered {
        registration_id: reg.registration(),
        eventuserid,
    }))
}
