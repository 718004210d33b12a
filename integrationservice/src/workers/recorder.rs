//! Records successful job runs in batches: many jobs completed, their registrations marked
//! DELIVERED and their feed entries appended in one durable transaction, so a commit's WAL
//! flush and round trips are shared by every job that finished while the previous batch was
//! being written. Any other result is recorded alone by `apply`.

use super::execute::{Effect, Outcome, RunResult};
use crate::domain::{ChangeKind, Engine, Error};
use crate::ids::{RegistrationId, TenantId};
use crate::store::models::JobRow;
use crate::store::{DbConnection, changes, now_ms, outbox, providers};

/// A successful run whose result `Recorder` writes together with others: the common case
/// (a registration delivered, or nothing to record), everything else is recorded alone.
#[derive(Clone, Debug)]
pub enum BatchedSuccess {
    /// Nothing to record but the job's completion.
    Nothing,
    /// The registration reached the provider.
    Delivered {
        /// The registration delivered.
        registration_id: RegistrationId,
        /// ON24's id for the registrant.
        eventuserid: i64,
    },
}

/// How a run is recorded: with others, or alone.
#[derive(Debug)]
pub enum Recording {
    /// A success `Recorder` writes with others.
    Batched(BatchedSuccess),
    /// Anything else, recorded by `apply`.
    Alone(RunResult),
}

impl BatchedSuccess {
    /// Whether a run is recorded with others (the quick form) or alone.
    pub fn split(result: RunResult) -> Recording {
        match result.outcome {
            Outcome::Done(Effect::Nothing) => Recording::Batched(Self::Nothing),
            Outcome::Done(Effect::Delivered {
                registration_id,
                eventuserid,
            }) => Recording::Batched(Self::Delivered {
                registration_id,
                eventuserid,
            }),
            outcome => Recording::Alone(RunResult { outcome, ..result }),
        }
    }

    /// Back to a run, to record it alone.
    pub fn into_run_result(self) -> RunResult {
        Outcome::Done(match self {
            Self::Nothing => Effect::Nothing,
            Self::Delivered {
                registration_id,
                eventuserid,
            } => Effect::Delivered {
                registration_id,
                eventuserid,
            },
        })
        .into()
    }
}

/// Most jobs recorded in one transaction.
const MAX_BATCH: usize = 256;
/// Batches written at once.
const WRITERS: usize = 4;

type Finished = (JobRow, String, BatchedSuccess);

/// Records successful runs of many jobs in one durable transaction (jobs completed,
/// registrations DELIVERED, their feed entries), so a commit's WAL flush and round trips are
/// shared by every job that finished while the previous batch was being written, instead of
/// one flush per job. A batch forms when a writer is free, from whatever finished meanwhile:
/// one job when deliveries are sparse, many under load; nothing waits on a timer.
#[derive(Clone, Debug)]
pub struct Recorder {
    tx: tokio::sync::mpsc::UnboundedSender<(Finished, tokio::sync::oneshot::Sender<bool>)>,
}

impl Recorder {
    /// Starts the recorder; it stops once every `Recorder` clone is dropped and the queued
    /// results are written.
    pub fn start(engine: Engine) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (Self { tx }, tokio::spawn(record_loop(engine, rx)))
    }

    /// Records a successful run of `job` (claimed by `owner`) with others; false when the
    /// batch could not be written, and the caller records it alone.
    pub async fn record(&self, job: JobRow, owner: String, quick: BatchedSuccess) -> bool {
        let (done, answer) = tokio::sync::oneshot::channel();
        if self.tx.send(((job, owner, quick), done)).is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }
}

async fn record_loop(
    engine: Engine,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<(Finished, tokio::sync::oneshot::Sender<bool>)>,
) {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(WRITERS));
    let mut writing = tokio::task::JoinSet::new();
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let Some(first) = rx.recv().await else {
            break;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH
            && let Ok(more) = rx.try_recv()
        {
            batch.push(more);
        }
        let engine = engine.clone();
        writing.spawn(async move {
            let _slot = slot;
            let (rows, answers): (Vec<Finished>, Vec<_>) = batch.into_iter().unzip();
            let n = rows.len();
            let result = engine
                .store()
                .transaction(move |conn| write_batch(conn, rows))
                .await;
            let ok = match result {
                Ok(grown) => {
                    for tenant in &grown {
                        engine.signals().changes_added(tenant);
                    }
                    true
                }
                Err(e) => {
                    tracing::warn!(error = %e, jobs = n, "a batch of job results could not be recorded; recording them one by one");
                    false
                }
            };
            for answer in answers {
                let _ = answer.send(ok);
            }
        });
        while writing.try_join_next().is_some() {}
    }
    while writing.join_next().await.is_some() {}
}

/// One transaction for many successful runs, rows locked in the usual order: provider
/// configurations (a success ends a finished quota pause), then jobs in id order, then
/// registrations, then the change feed. Same effects as `write` on each run alone. Returns
/// the tenants whose feed grew.
fn write_batch(
    conn: &mut DbConnection,
    mut rows: Vec<Finished>,
) -> Result<std::collections::BTreeSet<TenantId>, Error> {
    let mut tenants: Vec<&str> = rows.iter().map(|(job, _, _)| job.tenant.as_str()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    for tenant in tenants {
        providers::clear_throttle(conn, &TenantId::from_stored(tenant))?;
    }
    rows.sort_by_key(|(job, _, _)| job.id);
    let done: Vec<outbox::Completion<'_>> = rows
        .iter()
        .map(|(job, owner, quick)| outbox::Completion {
            job,
            owner,
            delivered: match quick {
                BatchedSuccess::Delivered {
                    registration_id,
                    eventuserid,
                } => Some((*registration_id, *eventuserid)),
                BatchedSuccess::Nothing => None,
            },
        })
        .collect();
    let mut grown = std::collections::BTreeSet::new();
    let feed: Vec<_> = outbox::complete_batch(conn, &done, now_ms())?
        .iter()
        .map(|d| {
            let (tenant, webinar, registration) = d.ids();
            let change = changes::change(
                &tenant,
                ChangeKind::Registration,
                webinar.as_ref(),
                Some(&registration),
            );
            grown.insert(tenant);
            change
        })
        .collect();
    changes::append(conn, &feed)?;
    Ok(grown)
}
