//! `update_registration`: push a delivered registration's changed fields to the provider.

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
        .update_registrant(call.creds, event, &registrant(&reg))
        .await;
    Ok(finish(result, |()| Effect::Delivered {
        registration_id: reg.registration(),
        eventuserid: reg.eventuserid.unwrap_or_default(),
    }))
}
