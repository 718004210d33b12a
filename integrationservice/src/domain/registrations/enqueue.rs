//! What a registration write commits beside its row: the outbox job that carries it to the
//! provider, and the change-feed entry the CRM reads.

use crate::domain::ChangeKind;
use crate::domain::jobs::JobKind;
use crate::store::models::{NewChange, NewJob, RegistrationRow};
use crate::store::{changes, outbox};

/// The job of `kind` for this registration, held (PAUSED) while the tenant's credentials
/// block calls.
pub(super) fn job(
    row: &RegistrationRow,
    kind: JobKind,
    paused: bool,
    payload: Option<String>,
) -> NewJob {
    let mut job = outbox::new_job(
        &row.tenant_id(),
        kind,
        Some(&row.webinar()),
        Some(&row.registration()),
        payload,
    );
    if paused {
        job.state = outbox::PAUSED.to_owned();
    }
    job
}

/// The change-feed entry saying this registration changed.
pub(super) fn feed(row: &RegistrationRow) -> NewChange {
    changes::change(
        &row.tenant_id(),
        ChangeKind::Registration,
        Some(&row.webinar()),
        Some(&row.registration()),
    )
}
