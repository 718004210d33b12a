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

use diesel::prelude::*;

use crate::domain::{Engine, Error, RegistrationStatus, WebinarStatus, jobs};
use crate::provider::{EventInfo, EventSpec, ProviderError, RegistrantSpec};
use crate::store::models::{JobRow, ProviderConfigRow, RegistrationRow, WebinarRow};
use crate::store::{DbConnection, providers, registrations, webinars};

/// A job run: what happened, and which version of the tenant's credentials it used, so a
/// refusal of credentials that were replaced meanwhile does not hold the tenant's work.
#[derive(Debug)]
pub struct Ran {
    /// What happened.
    pub outcome: Outcome,
    /// `secret_version` of the credentials, read before they were decrypted.
    pub secret_version: Option<i64>,
}

impl From<Outcome> for Ran {
    fn from(outcome: Outcome) -> Self {
        Self {
            outcome,
            secret_version: None,
        }
    }
}

/// What running a job produced.
#[derive(Debug)]
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
#[derive(Debug)]
pub enum Effect {
    /// Nothing to record.
    Nothing,
    /// The registration reached the provider.
    Delivered {
        registration_id: String,
        eventuserid: i64,
    },
    /// The webinar exists at the provider.
    EventReady { webinar_id: String, info: EventInfo },
    /// A webinar's metrics were pulled and stored (chunk by chunk, as they streamed in) with
    /// figures stamped `at`; the sync is recorded as finished.
    MetricsSynced { webinar_id: String, at: i64 },
}

fn older_job_pending(conn: &mut DbConnection, job: &JobRow) -> QueryResult<bool> {
    use crate::store::schema::outbox_jobs::dsl as j;
    let Some(reg) = &job.registration_id else {
        return Ok(false);
    };
    diesel::select(diesel::dsl::exists(
        j::outbox_jobs
            .filter(j::tenant.eq(&job.tenant))
            .filter(j::registration_id.eq(reg))
            .filter(j::id.lt(job.id))
            .filter(j::state.ne("FAILED")),
    ))
    .get_result(conn)
}

fn spec(row: &RegistrationRow) -> RegistrantSpec {
    RegistrantSpec {
        email: row.email.clone(),
        first_name: row.first_name.clone(),
        last_name: row.last_name.clone(),
        company: row.company.clone(),
        job_title: row.job_title.clone(),
        crm_reference_id: row.crm_reference_id.clone(),
        extra: serde_json::from_str(&row.extra).unwrap_or_default(),
    }
}

/// The marker a webinar carries at the provider (see the module comment): the webinar id is
/// unique across tenants, so the marker names exactly one webinar of ours.
pub fn event_marker(webinar_id: &str) -> String {
    format!("crm-{webinar_id}")
}

fn event_spec(w: &WebinarRow) -> EventSpec {
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

/// What a run reads before calling the provider: its registration and webinar, whether an
/// older job of the registration is still queued, and the tenant's provider row (the
/// credentials are decrypted from this very row).
pub struct Loaded {
    registration: Option<RegistrationRow>,
    webinar: Option<WebinarRow>,
    older: bool,
    provider: Option<ProviderConfigRow>,
}

impl std::fmt::Debug for Loaded {
    // The provider row holds the sealed credentials: only say whether rows were found.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("registration", &self.registration.is_some())
            .field("webinar", &self.webinar.is_some())
            .field("older", &self.older)
            .field("provider", &self.provider.is_some())
            .finish()
    }
}

/// Whether an earlier run of `job` may have reached the provider without its result being
/// recorded: it failed before (an ambiguous failure such as a timeout counts an attempt) or
/// it was leased before (a lease that expired, a pause mid-call, a replica that died).
pub fn may_have_run_before(job: &JobRow) -> bool {
    job.claims > 1 || job.attempts > 0
}

/// Reads what the runs of `jobs` (one claim) need in four statements for all of them, instead
/// of four per job; the claim just leased them, so the rows are as fresh as a read at the
/// start of each run. In the order of `jobs`.
pub async fn load_all(engine: &Engine, jobs: &[JobRow]) -> Result<Vec<Loaded>, Error> {
    use crate::store::schema::{
        outbox_jobs::dsl as j, provider_configs::dsl as p, registrations::dsl as r,
        webinars::dsl as w,
    };
    let jobs = jobs.to_vec();
    engine
        .store()
        .run(move |conn| {
            let mut tenants: Vec<&str> = jobs.iter().map(|job| job.tenant.as_str()).collect();
            tenants.sort_unstable();
            tenants.dedup();
            let regs: Vec<&str> = jobs
                .iter()
                .filter_map(|job| job.registration_id.as_deref())
                .collect();
            let webinar_ids: Vec<&str> = jobs
                .iter()
                .filter_map(|job| job.webinar_id.as_deref())
                .collect();
            let mut queued: Vec<(i64, String, Option<String>)> = Vec::new();
            let mut registration_rows: Vec<RegistrationRow> = Vec::new();
            // Bounded lists per statement (SQLite's parameter limit).
            for chunk in regs.chunks(400) {
                queued.extend(
                    j::outbox_jobs
                        .filter(j::tenant.eq_any(&tenants))
                        .filter(j::registration_id.eq_any(chunk))
                        .filter(j::state.ne("FAILED"))
                        .select((j::id, j::tenant, j::registration_id))
                        .load::<(i64, String, Option<String>)>(conn)?,
                );
                registration_rows.extend(
                    r::registrations
                        .filter(r::tenant.eq_any(&tenants))
                        .filter(r::id.eq_any(chunk))
                        .select(RegistrationRow::as_select())
                        .load(conn)?,
                );
            }
            let mut webinar_rows: Vec<WebinarRow> = Vec::new();
            for chunk in webinar_ids.chunks(400) {
                webinar_rows.extend(
                    w::webinars
                        .filter(w::tenant.eq_any(&tenants))
                        .filter(w::id.eq_any(chunk))
                        .filter(w::deleted.eq(false))
                        .select(WebinarRow::as_select())
                        .load(conn)?,
                );
            }
            let provider_rows: Vec<ProviderConfigRow> = p::provider_configs
                .filter(p::tenant.eq_any(&tenants))
                .select(ProviderConfigRow::as_select())
                .load(conn)?;
            let loaded = jobs
                .iter()
                .map(|job| {
                    let older = job.registration_id.as_ref().is_some_and(|reg| {
                        queued.iter().any(|(id, tenant, r)| {
                            *id < job.id && *tenant == job.tenant && r.as_ref() == Some(reg)
                        })
                    });
                    let webinar = job.webinar_id.as_ref().and_then(|wid| {
                        webinar_rows
                            .iter()
                            .find(|w| w.tenant == job.tenant && &w.id == wid)
                            .cloned()
                    });
                    let registration = match (&job.webinar_id, &job.registration_id) {
                        (Some(wid), Some(rid)) => registration_rows
                            .iter()
                            .find(|r| {
                                r.tenant == job.tenant && &r.webinar_id == wid && &r.id == rid
                            })
                            .cloned(),
                        _ => None,
                    };
                    let provider = provider_rows
                        .iter()
                        .find(|p| p.tenant == job.tenant)
                        .cloned();
                    Loaded {
                        registration,
                        webinar,
                        older,
                        provider,
                    }
                })
                .collect();
            Ok::<_, Error>(loaded)
        })
        .await
}

/// Runs `job` once.
pub async fn run(engine: &Engine, job: &JobRow) -> Result<Ran, Error> {
    run_loaded(engine, job, None).await
}

/// Runs `job` once on rows `load_all` read for it (None: reads them now).
pub async fn run_loaded(
    engine: &Engine,
    job: &JobRow,
    loaded: Option<Loaded>,
) -> Result<Ran, Error> {
    if let Some(loaded) = loaded {
        return run_on(engine, job, loaded).await;
    }
    let j = job.clone();
    let loaded = engine
        .store()
        .run(move |conn| {
            let older = older_job_pending(conn, &j)?;
            let webinar = match &j.webinar_id {
                Some(w) => webinars::get(conn, &j.tenant, w)?,
                None => None,
            };
            let registration = match (&j.webinar_id, &j.registration_id) {
                (Some(w), Some(r)) => registrations::get(conn, &j.tenant, w, r)?,
                _ => None,
            };
            // The credentials are decrypted from this very row, so `secret_version` is exactly
            // the version the call uses: if they are replaced meanwhile, a refusal costs only
            // a retry and is never recorded against credentials put after the call started.
            let provider = providers::get(conn, &j.tenant)?;
            Ok::<_, Error>(Loaded {
                registration,
                webinar,
                older,
                provider,
            })
        })
        .await?;
    run_on(engine, job, loaded).await
}

async fn run_on(engine: &Engine, job: &JobRow, loaded: Loaded) -> Result<Ran, Error> {
    if loaded.older {
        return Ok(Outcome::Wait.into());
    }
    let secret_version = loaded.provider.as_ref().map(|p| p.secret_version);
    let outcome = call(engine, job, loaded).await?;
    Ok(Ran {
        outcome,
        secret_version,
    })
}

/// The provider side of `run`, on the rows it loaded.
async fn call(engine: &Engine, job: &JobRow, mut loaded: Loaded) -> Result<Outcome, Error> {
    let creds = match engine
        .providers()
        .credentials_for_work_from(&job.tenant, loaded.provider.take())
        .await
    {
        Ok(c) => c,
        Err(Error::IntegrationDisabled { .. }) => return Ok(Outcome::Disabled),
        Err(e) => return Err(e),
    };
    let provider = engine.provider();
    let kind = job.kind.as_str();
    if kind == jobs::FORGET {
        let payload: jobs::ForgetPayload =
            serde_json::from_str(job.payload.as_deref().unwrap_or("{}"))
                .map_err(|_| Error::Internal)?;
        return Ok(match provider.forget(&creds, &payload.emails).await {
            Ok(()) => Outcome::Done(Effect::Nothing),
            Err(e) => Outcome::Failed(e),
        });
    }
    let Some(webinar) = loaded.webinar else {
        return Ok(Outcome::Stop("the webinar was unlinked".into()));
    };
    let status = WebinarStatus::parse(&webinar.status);
    match kind {
        jobs::CREATE_EVENT => {
            if webinar.on24_event_id.is_some() {
                return Ok(Outcome::Done(Effect::Nothing));
            }
            let spec = event_spec(&webinar);
            if may_have_run_before(job) {
                match provider.find_event(&creds, &spec, job.created_at).await {
                    Ok(Some(info)) => {
                        tracing::info!(
                            job = job.id,
                            on24.event_id = info.event_id,
                            "adopting the webinar an earlier run created"
                        );
                        return Ok(Outcome::Done(Effect::EventReady {
                            webinar_id: webinar.id,
                            info,
                        }));
                    }
                    Ok(None) => {}
                    // Creating without knowing could duplicate: retry the look-up later.
                    Err(e) => return Ok(Outcome::Failed(e)),
                }
            }
            Ok(match provider.create_event(&creds, &spec).await {
                Ok(info) => Outcome::Done(Effect::EventReady {
                    webinar_id: webinar.id,
                    info,
                }),
                Err(e) => Outcome::Failed(e),
            })
        }
        jobs::REFRESH_EVENT | jobs::UPDATE_EVENT | jobs::SYNC_METRICS => {
            let Some(event) = webinar.on24_event_id else {
                return Ok(Outcome::Wait);
            };
            let result = match kind {
                jobs::REFRESH_EVENT => {
                    provider
                        .get_event(&creds, event)
                        .await
                        .map(|info| Effect::EventReady {
                            webinar_id: webinar.id.clone(),
                            info,
                        })
                }
                jobs::UPDATE_EVENT => provider
                    .update_event(&creds, event, &event_spec(&webinar))
                    .await
                    .map(|()| Effect::Nothing),
                // Stored chunk by chunk as the report streams in (never held whole); the
                // sync is recorded as finished with the job's completion.
                _ => {
                    let at = crate::store::now_ms();
                    crate::domain::metrics::pull_and_store(
                        engine,
                        &creds,
                        &job.tenant,
                        &webinar.id,
                        event,
                        at,
                    )
                    .await?
                    .map(|_| Effect::MetricsSynced {
                        webinar_id: webinar.id.clone(),
                        at,
                    })
                }
            };
            Ok(match result {
                Ok(effect) => Outcome::Done(effect),
                Err(e) => Outcome::Failed(e),
            })
        }
        jobs::DELIVER_REGISTRATION | jobs::UPDATE_REGISTRATION | jobs::CANCEL_REGISTRATION => {
            let Some(reg) = loaded.registration else {
                return Ok(Outcome::Done(Effect::Nothing));
            };
            let reg_status = RegistrationStatus::parse(&reg.status);
            if kind != jobs::CANCEL_REGISTRATION
                && matches!(
                    reg_status,
                    Some(RegistrationStatus::Cancelled | RegistrationStatus::Forgotten)
                )
            {
                return Ok(Outcome::Done(Effect::Nothing));
            }
            let Some(event) = webinar.on24_event_id else {
                if status == Some(WebinarStatus::Failed) {
                    return Ok(Outcome::Stop(
                        "the webinar could not be created at ON24".into(),
                    ));
                }
                if kind == jobs::CANCEL_REGISTRATION {
                    // Never delivered: nothing to cancel at the provider.
                    return Ok(Outcome::Done(Effect::Nothing));
                }
                return Ok(Outcome::Wait);
            };
            let result = match kind {
                jobs::DELIVER_REGISTRATION => provider
                    .register(&creds, event, &spec(&reg))
                    .await
                    .map(|id| Effect::Delivered {
                        registration_id: reg.id.clone(),
                        eventuserid: id,
                    }),
                jobs::UPDATE_REGISTRATION => provider
                    .update_registrant(&creds, event, &spec(&reg))
                    .await
                    .map(|()| Effect::Delivered {
                        registration_id: reg.id.clone(),
                        eventuserid: reg.eventuserid.unwrap_or_default(),
                    }),
                _ => {
                    if reg.eventuserid.is_none() {
                        return Ok(Outcome::Done(Effect::Nothing));
                    }
                    provider
                        .cancel_registrant(&creds, event, &reg.email)
                        .await
                        .map(|()| Effect::Nothing)
                }
            };
            Ok(match result {
                Ok(effect) => Outcome::Done(effect),
                Err(e) => Outcome::Failed(e),
            })
        }
        other => Ok(Outcome::Stop(format!("unknown job kind {other}"))),
    }
}
