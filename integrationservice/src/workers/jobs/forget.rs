//! `forget`: erase people at the provider (GDPR). It runs only once every older job of the
//! registrations it covers has finished (a delivery that was already running when the person
//! was forgotten), so the provider hears the forget after the last registrant call. The
//! provider answering "not found" counts as done: the person is not there (never delivered, or
//! forgotten already). The job row is deleted once the provider confirmed, so the addresses in
//! its payload do not outlive the request.

use super::{Call, ForgetPayload, finish};
use crate::domain::Error;
use crate::ids::{RegistrationId, TenantId};
use crate::store::outbox;
use crate::workers::execute::{Effect, Outcome};

pub(super) async fn run(call: Call<'_>, payload: &ForgetPayload) -> Result<Outcome, Error> {
    if payload.emails.is_empty() {
        return Ok(Outcome::Stop("the forget job holds no address".into()));
    }
    let tenant = TenantId::from_stored(&call.job.tenant);
    let ids: Vec<RegistrationId> = payload
        .registration_ids
        .iter()
        .map(|id| RegistrationId::from_stored(id))
        .collect();
    let job_id = call.job.id;
    let earlier = call
        .engine
        .store()
        .run(move |conn| {
            outbox::older_unfinished_any(conn, &tenant, &ids, job_id)
                .map_err(crate::store::StoreError::from)
        })
        .await?;
    if earlier {
        return Ok(Outcome::Wait);
    }
    let tenant = TenantId::from_stored(&call.job.tenant);
    let fields = crate::domain::tenant_keys::field_cipher(call.engine, &tenant, false).await?;
    let emails = payload.opened_emails(&fields, &tenant)?;
    let result = call.engine.provider().forget(call.creds, &emails).await;
    let erasure_request_id = payload.erasure_request_id.clone();
    Ok(finish(result, |()| Effect::Erased { erasure_request_id }))
}
