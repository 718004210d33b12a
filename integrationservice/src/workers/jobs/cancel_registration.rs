//! `cancel_registration`: cancel a delivered registration at the provider (a registration
//! never delivered has nothing to cancel there).

use super::{Call, finish};
use crate::domain::Error;
use crate::store::models::RegistrationRow;
use crate::workers::execute::{Effect, Outcome};

pub(super) async fn run(
    call: Call<'_>,
    event: i64,
    reg: RegistrationRow,
) -> Result<Outcome, Error> {
    // A forgotten registration has neither: ON24's side is the forget job's.
    let (Some(_), Some(email)) = (reg.eventuserid, reg.email.as_deref()) else {
        return Ok(Outcome::Done(Effect::Nothing));
    };
    let result = call
        .engine
        .provider()
        .cancel_registrant(call.creds, event, email)
        .await;
    Ok(finish(result, |()| Effect::Nothing))
}
