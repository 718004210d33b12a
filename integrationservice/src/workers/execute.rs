//! Runs one claimed job against the provider and says what happened; `apply` then writes the
//! result (registration status, event ids, metrics) together with the job's completion.
//! Jobs of one registration run in order: a job waits while an older one for the same
//! registration is still queued.
//!
//! Creating a webinar is the one call ON24 cannot make idempotent (no idempotency key), so
//! every webinar is created with a marker of ours (its campaign code) and any run of a create
//! job but the first clean one first looks for a webinar with that marker, adopting it rather
//! than creating a second: an earlier run may have created it and lost the answer (timeout,
//! reset), or been cut off (lease expired, tenant paused mid-call, replica gone).

use crate::domain::{Engine, Error};
use crate::ids::{RegistrationId, WebinarId};
use crate::provider::{EventInfo, EventSpec, ProviderError, RegistrationQuestion};
use crate::store::job_inputs::{self, JobInputs};
use crate::store::models::{JobRow, WebinarRow};
use crate::store::sealing::SealRows;

/// A job run: what happened, and which version of the tenant's credentials it used, so a
/// refusal of credentials that were replaced meanwhile does not hold the tenant's work.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// What happened.
    pub outcome: Outcome,
    /// `secret_version` of the credentials, read before they were decrypted.
    pub secret_version: Option<i64>,
}

impl From<Outcome> for RunResult {
    fn from(outcome: Outcome) -> Self {
        Self {
            outcome,
            secret_version: None,
        }
    }
}

/// What running a job produced.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// Done; write `Effect` and remove the job.
    Done(Effect),
    /// The provider call failed; decide by the error's class.
    Failed(ProviderError),
    /// Not runnable yet (an older job, or the webinar is not created yet): try again soon
    /// without counting an attempt.
    Wait,
    /// The integration was disabled meanwhile: the job is already paused.
    Disabled,
    /// Cannot ever run (the webinar was unlinked or failed): stop with this reason.
    Stop(String),
}

/// The database side of a successful job.
#[derive(Clone, Debug)]
pub enum Effect {
    /// Nothing to record.
    Nothing,
    /// The registration reached the provider.
    Delivered {
        registration_id: RegistrationId,
        eventuserid: i64,
    },
    /// The webinar exists at the provider, with these custom registration questions (None:
    /// they could not be read; the next metrics sync reads them).
    EventReady {
        webinar_id: WebinarId,
        info: EventInfo,
        questions: Option<Vec<RegistrationQuestion>>,
    },
    /// The provider erased the people of a forget job: its erasure request is DONE.
    Erased {
        /// The request, if the job carries one.
        erasure_request_id: Option<String>,
    },
    /// A webinar's metrics were pulled and stored (chunk by chunk, as they streamed in) with
    /// figures stamped `at`, and every attendee activity up to `read_up_to` was read; the
    /// sync is recorded as finished.
    MetricsSynced {
        webinar_id: WebinarId,
        at: i64,
        read_up_to: i64,
        /// The custom registration questions, when this sync read them again.
        questions: Option<Vec<RegistrationQuestion>>,
        /// The live start (ms) and length (minutes) the provider reports, read when the
        /// webinar had none (a linked one), so its attendance outcomes can settle.
        times: Option<(i64, i32)>,
    },
}

/// The marker a webinar carries at the provider (see the module comment): the webinar id is
/// unique across tenants, so the marker names exactly one webinar of ours.
pub fn event_marker(webinar_id: &str) -> String {
    format!("crm-{webinar_id}")
}

/// The webinar as the provider takes it.
pub(super) fn event_spec(w: &WebinarRow) -> EventSpec {
    EventSpec {
        marker: event_marker(&w.id),
        title: w.title.clone(),
        start_at_ms: w.start_at,
        duration_minutes: u32::try_from(w.duration_minutes).unwrap_or(60),
        time_zone: w.time_zone.clone(),
        language: w.language.clone(),
        event_type: w.event_type.clone(),
        description: w.description.clone().unwrap_or_default(),
    }
}

/// Whether an earlier run of `job` may have reached the provider without its result being
/// recorded: it failed before (an ambiguous failure such as a timeout counts an attempt) or
/// it was leased before (a lease that expired, a pause mid-call, a replica that died).
pub(crate) fn may_have_run_before(job: &JobRow) -> bool {
    job.claims > 1 || job.attempts > 0
}

/// Reads what the runs of `jobs` (one claim) need in four statements for all of them, instead
/// of four per job. In the order of `jobs`.
pub(crate) async fn load_all(engine: &Engine, jobs: &[JobRow]) -> Result<Vec<JobInputs>, Error> {
    let jobs = jobs.to_vec();
    engine
        .store()
        .run(move |conn| Ok::<_, Error>(job_inputs::read_claimed(conn, &jobs)?))
        .await
}

/// Runs `job` once on rows `load_all` read for it (None: reads them now).
pub(crate) async fn run_loaded(
    engine: &Engine,
    job: &JobRow,
    loaded: Option<JobInputs>,
) -> Result<RunResult, Error> {
    if let Some(loaded) = loaded {
        return run_on(engine, job, loaded).await;
    }
    let j = job.clone();
    // The credentials are decrypted from the provider row read here, so `secret_version` is
    // exactly the version the call uses: if they are replaced meanwhile, a refusal costs only
    // a retry and is never recorded against credentials put after the call started.
    let loaded = engine
        .store()
        .run(move |conn| Ok::<_, Error>(job_inputs::read_one(conn, &j)?))
        .await?;
    run_on(engine, job, loaded).await
}

async fn run_on(engine: &Engine, job: &JobRow, loaded: JobInputs) -> Result<RunResult, Error> {
    if loaded.older_job_pending {
        return Ok(Outcome::Wait.into());
    }
    let secret_version = loaded.provider.as_ref().map(|p| p.secret_version);
    let outcome = call(engine, job, loaded).await?;
    Ok(RunResult {
        outcome,
        secret_version,
    })
}

/// The provider side of `run`, on the rows it loaded: the tenant's credentials, then the
/// job's handler (`workers::jobs`).
async fn call(engine: &Engine, job: &JobRow, mut loaded: JobInputs) -> Result<Outcome, Error> {
    let creds = match engine
        .providers()
        .credentials_for_work_from(&job.tenant_id(), loaded.provider.take())
        .await
    {
        Ok(c) => c,
        Err(Error::IntegrationDisabled { .. }) => return Ok(Outcome::Disabled),
        Err(e) => return Err(e),
    };
    // The registration was read as stored: its personal columns open with the tenant's key
    // (cached, so a burst of deliveries costs no key-service call each).
    if let Some(reg) = loaded.registration.as_mut() {
        let fields =
            crate::domain::tenant_keys::field_cipher(engine, &job.tenant_id(), false).await?;
        fields
            .open_registration(reg)
            .map_err(crate::domain::Error::from)?;
    }
    super::jobs::call(engine, job, &creds, loaded).await
}
