//! A webinar's custom registration questions, as the provider defines them: read when the
//! webinar is created or linked (by the job that does it), again by a metrics sync once the
//! stored ones are an hour old (one small read per webinar and hour at most; a sync the CRM
//! asks for reads them every time), and stored on the webinar. Registrations' answers are
//! checked against them at the API (`api::registration_fields`). A failed read leaves the
//! stored ones as they are and fails nothing: the next sync reads them again.

use super::{ChangeKind, Engine, RegistrationQuestion, TenantId, WebinarId};
use crate::provider::ProviderCredentials;
use crate::store::{DbConnection, changes, webinars};

/// How long stored questions are trusted before a scheduled sync reads them again (ms).
pub const QUESTIONS_FRESH_MS: i64 = 3_600_000;

/// Whether a scheduled sync should read the questions again, given when they were last read.
pub fn stale(read_at: Option<i64>, now: i64) -> bool {
    read_at.is_none_or(|at| now - at >= QUESTIONS_FRESH_MS)
}

/// Reads the event's questions from the provider; None when the read failed (logged with
/// the provider's message, which holds no personal data).
pub async fn read(
    engine: &Engine,
    creds: &ProviderCredentials,
    event: i64,
) -> Option<Vec<RegistrationQuestion>> {
    match engine.provider.registration_questions(creds, event).await {
        Ok(questions) => Some(questions),
        Err(e) => {
            tracing::warn!(on24.event_id = event, error = %e, "could not read the registration questions");
            None
        }
    }
}

/// Stores the questions read at `at` in the caller's transaction. When they differ from
/// the stored ones the webinar counts as changed (its update time, one WEBINAR feed entry);
/// returns whether they did.
pub(crate) fn store(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar: &WebinarId,
    questions: &[RegistrationQuestion],
    at: i64,
) -> Result<bool, super::Error> {
    let Some(row) = webinars::find(conn, tenant, webinar)? else {
        return Ok(false);
    };
    let json = RegistrationQuestion::list_to_json(questions);
    let changed = row.registration_questions.as_deref() != Some(json.as_str());
    webinars::set_questions(conn, tenant, webinar, &json, at, changed)?;
    if changed {
        changes::append(
            conn,
            &[changes::change(
                tenant,
                ChangeKind::Webinar,
                Some(webinar),
                None,
            )],
        )?;
    }
    Ok(changed)
}
