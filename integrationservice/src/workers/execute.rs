//! Runs one claimed job against the provider and says what happened; `apply` then writes the
//! result (registration status, event ids, metrics) together with the job's completion.
//! Jobs of one registration run in order: a job waits while an older one for the same
//! registration is still queued.

use diesel::prelude::*;

use crate::domain::{Engine, Error, RegistrationStatus, WebinarStatus, jobs};
use crate::provider::{AttendeeReport, EventInfo, EventSpec, ProviderError, RegistrantSpec};
use crate::store::models::{JobRow, RegistrationRow, WebinarRow};
use crate::store::{DbConnection, registrations, webinars};

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
    /// Fresh metrics for a webinar.
    Metrics {
        webinar_id: String,
        reports: Vec<AttendeeReport>,
    },
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
        extra: serde_json::from_str(&row.extra).unwrap_or_default(),
    }
}

fn event_spec(w: &WebinarRow) -> EventSpec {
    EventSpec {
        title: w.title.clone(),
        start_at_ms: w.start_at,
        duration_minutes: u32::try_from(w.duration_minutes).unwrap_or(60),
        time_zone: w.time_zone.clone(),
        language: w.language.clone(),
        event_type: w.event_type.clone(),
    }
}

struct Loaded {
    registration: Option<RegistrationRow>,
    webinar: Option<WebinarRow>,
    older: bool,
}

/// Runs `job` once.
pub async fn run(engine: &Engine, job: &JobRow) -> Result<Outcome, Error> {
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
            Ok::<_, Error>(Loaded {
                registration,
                webinar,
                older,
            })
        })
        .await?;
    if loaded.older {
        return Ok(Outcome::Wait);
    }
    let creds = match engine.providers().credentials_for_work(&job.tenant).await {
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
            Ok(
                match provider.create_event(&creds, &event_spec(&webinar)).await {
                    Ok(info) => Outcome::Done(Effect::EventReady {
                        webinar_id: webinar.id,
                        info,
                    }),
                    Err(e) => Outcome::Failed(e),
                },
            )
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
                _ => provider
                    .list_attendees(&creds, event)
                    .await
                    .map(|reports| Effect::Metrics {
                        webinar_id: webinar.id.clone(),
                        reports,
                    }),
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
