//! One handler per job kind. A claimed row becomes a typed [`Job`] once (its stored kind
//! parsed through [`JobKind`], its payload decoded); [`call`] hands it to its handler with the
//! rows the run read and the tenant's decrypted credentials. To add a kind: a `JobKind`
//! variant (`store/status.rs`), a `Job` variant here, and its handler file.

mod cancel_registration;
mod create_event;
mod deliver_registration;
mod forget;
mod refresh_event;
mod sync_metrics;
mod update_event;
mod update_registration;

use super::execute::Outcome;
use crate::domain::jobs::{ForgetPayload, JobKind, SyncMetricsPayload};
use crate::domain::{Engine, Error, RegistrationStatus, WebinarStatus};
use crate::provider::{ProviderCredentials, RegistrantSpec};
use crate::store::job_inputs::JobInputs;
use crate::store::models::{JobRow, RegistrationRow, WebinarRow};

/// A job, typed: what to do at the provider, with what its row carries.
#[derive(Debug)]
pub(crate) enum Job {
    /// Create the webinar at the provider (or adopt the one an earlier run created).
    CreateEvent,
    /// Read a linked webinar's URLs from the provider.
    RefreshEvent,
    /// Push webinar changes to the provider.
    UpdateEvent,
    /// Pull a webinar's attendee metrics (as the poller asked, if it queued the job).
    SyncMetrics(Option<SyncMetricsPayload>),
    /// Register a person at the provider.
    DeliverRegistration,
    /// Push a registration's changed fields.
    UpdateRegistration,
    /// Cancel a registration at the provider.
    CancelRegistration,
    /// Erase people at the provider.
    Forget(ForgetPayload),
}

impl Job {
    /// The typed job of a row; `Ok(None)` for a kind this build does not know.
    pub(crate) fn from_row(row: &JobRow) -> Result<Option<Self>, Error> {
        let Some(kind) = JobKind::parse(&row.kind) else {
            return Ok(None);
        };
        Ok(Some(match kind {
            JobKind::CreateEvent => Self::CreateEvent,
            JobKind::RefreshEvent => Self::RefreshEvent,
            JobKind::UpdateEvent => Self::UpdateEvent,
            JobKind::SyncMetrics => Self::SyncMetrics(
                row.payload
                    .as_deref()
                    .map(serde_json::from_str)
                    .transpose()
                    .map_err(|_| Error::Internal)?,
            ),
            JobKind::DeliverRegistration => Self::DeliverRegistration,
            JobKind::UpdateRegistration => Self::UpdateRegistration,
            JobKind::CancelRegistration => Self::CancelRegistration,
            JobKind::Forget => Self::Forget(
                serde_json::from_str(row.payload.as_deref().unwrap_or("{}"))
                    .map_err(|_| Error::Internal)?,
            ),
        }))
    }
}

/// A forget job's payload without its addresses (kept for inspection once the job ended).
pub(crate) fn without_addresses(payload: Option<&str>) -> Option<String> {
    let mut p: ForgetPayload = serde_json::from_str(payload?).ok()?;
    p.emails.clear();
    serde_json::to_string(&p).ok()
}

/// The erasure request a forget job's payload ends, if any.
pub(crate) fn erasure_request_of(payload: Option<&str>) -> Option<String> {
    let p: ForgetPayload = serde_json::from_str(payload?).ok()?;
    p.erasure_request_id
}

/// What every handler runs with.
#[derive(Clone, Copy)]
struct Call<'a> {
    engine: &'a Engine,
    job: &'a JobRow,
    creds: &'a ProviderCredentials,
}

/// Ends a handler on the provider's answer: done with the effect, or failed with its error.
fn finish<E>(
    result: Result<E, crate::provider::ProviderError>,
    effect: impl FnOnce(E) -> super::execute::Effect,
) -> Outcome {
    match result {
        Ok(v) => Outcome::Done(effect(v)),
        Err(e) => Outcome::Failed(e),
    }
}

/// The registration's fields as the provider takes them.
fn registrant(row: &RegistrationRow) -> RegistrantSpec {
    RegistrantSpec {
        email: row.email.clone().unwrap_or_default(),
        first_name: row.first_name.clone(),
        last_name: row.last_name.clone(),
        company: row.company.clone(),
        job_title: row.job_title.clone(),
        crm_reference_id: row.crm_reference_id.clone(),
        fields: crate::domain::RegistrantFields::from_json(&row.extra),
    }
}

/// Runs `job` (of `row`) at the provider on the rows it read, with `creds`.
pub(super) async fn call(
    engine: &Engine,
    row: &JobRow,
    creds: &ProviderCredentials,
    inputs: JobInputs,
) -> Result<Outcome, Error> {
    let job = Job::from_row(row)?;
    let call = Call {
        engine,
        job: row,
        creds,
    };
    if let Some(Job::Forget(payload)) = &job {
        return forget::run(call, payload).await;
    }
    let Some(webinar) = inputs.webinar else {
        return Ok(Outcome::Stop("the webinar was unlinked".into()));
    };
    let Some(job) = job else {
        return Ok(Outcome::Stop(format!("unknown job kind {}", row.kind)));
    };
    match job {
        Job::CreateEvent => create_event::run(call, webinar).await,
        Job::RefreshEvent | Job::UpdateEvent | Job::SyncMetrics(_) => {
            let Some(event) = webinar.on24_event_id else {
                return Ok(Outcome::Wait);
            };
            match job {
                Job::SyncMetrics(asked) => sync_metrics::run(call, webinar, event, asked).await,
                Job::UpdateEvent => update_event::run(call, webinar, event).await,
                _ => refresh_event::run(call, webinar, event).await,
            }
        }
        Job::DeliverRegistration | Job::UpdateRegistration | Job::CancelRegistration => {
            let cancel = matches!(job, Job::CancelRegistration);
            let Some(reg) = inputs.registration else {
                return Ok(Outcome::Done(super::execute::Effect::Nothing));
            };
            let settled = matches!(
                RegistrationStatus::parse(&reg.status),
                Some(RegistrationStatus::Cancelled | RegistrationStatus::Forgotten)
            );
            if !cancel && settled {
                return Ok(Outcome::Done(super::execute::Effect::Nothing));
            }
            let Some(event) = webinar.on24_event_id else {
                return Ok(waiting_for_event(&webinar, cancel));
            };
            match job {
                Job::DeliverRegistration => deliver_registration::run(call, event, reg).await,
                Job::UpdateRegistration => update_registration::run(call, event, reg).await,
                _ => cancel_registration::run(call, event, reg).await,
            }
        }
        Job::Forget(_) => Ok(Outcome::Stop("forget runs above".into())),
    }
}

/// A registration job whose webinar has no provider event yet: stop if its creation failed,
/// nothing to cancel if it was never delivered, otherwise wait for the event.
fn waiting_for_event(webinar: &WebinarRow, cancel: bool) -> Outcome {
    if WebinarStatus::parse(&webinar.status) == Some(WebinarStatus::Failed) {
        return Outcome::Stop("the webinar could not be created at ON24".into());
    }
    if cancel {
        // Never delivered: nothing to cancel at the provider.
        return Outcome::Done(super::execute::Effect::Nothing);
    }
    Outcome::Wait
}
