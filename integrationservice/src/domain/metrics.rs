//! Metrics and the change feed: per-attendee metrics joined to registrations, per-webinar
//! aggregates, a sync that pulls the provider's figures now (also run by the poller's jobs),
//! and the feed itself — list after a cursor, or wait until something newer exists. A sync
//! first brings in the people who registered through ON24's own channels (registrations of
//! origin ON24), then the attendee report, then settles each registration's attendance
//! outcome once the live event has ended. It stores nothing of people on the tenant's
//! suppression list.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{
    Attendance, AttendeeMetrics, Change, ChangeKind, Email, Engine, Error, Page, RegistrationId,
    RegistrationOrigin, RegistrationQuestion, RegistrationStatus, SyncReport, TenantId, WebinarId,
    WebinarMetrics, paging,
};
use crate::crypto::fields::FieldCipher;
use crate::provider::{AttendeeInteraction, AttendeeReport, ProviderRegistrant};
use crate::store::models::{InteractionRow, MetricsRow, RegistrationRow, WebinarRow};
use crate::store::{
    DbConnection, changes, interactions, metrics, now_ms, providers, registrations, sealing,
    suppressions, webinars,
};

/// Metrics and change-feed service.
#[derive(Debug)]
pub struct Metrics<'a> {
    pub(crate) engine: &'a Engine,
}

/// Live minutes as a percentage of the webinar's live duration, 0 to 100 (0 when the
/// duration is unknown, as for a linked event not read yet).
fn attendance_percent(row: &MetricsRow, webinar: &WebinarRow) -> f64 {
    if webinar.duration_minutes > 0 {
        (row.live_minutes as f64 * 100.0 / f64::from(webinar.duration_minutes)).min(100.0)
    } else {
        0.0
    }
}

pub(crate) fn joined(
    row: &MetricsRow,
    webinar: &WebinarRow,
    registration: Option<&RegistrationRow>,
) -> AttendeeMetrics {
    AttendeeMetrics {
        webinar_id: WebinarId::from_stored(&row.webinar_id),
        registration_id: registration.map(|r| RegistrationId::from_stored(&r.id)),
        crm_reference_id: registration.and_then(|r| r.crm_reference_id.clone()),
        email: row.email.clone(),
        eventuserid: row.eventuserid,
        activity: row.activity(),
        attendance_percent: attendance_percent(row, webinar),
        updated_at: row.updated_at,
    }
}

fn to_row(tenant: &TenantId, webinar: &WebinarId, r: &AttendeeReport, now: i64) -> MetricsRow {
    MetricsRow::new(tenant, webinar, &r.email, r.eventuserid, &r.activity, now)
}

fn same_figures(a: &MetricsRow, b: &MetricsRow) -> bool {
    // The key is how the row is stored, not a figure; the interactions digest stands for
    // the interactions, which have their own feed entries.
    MetricsRow {
        updated_at: 0,
        email_hash: String::new(),
        interactions_digest: None,
        ..a.clone()
    } == MetricsRow {
        updated_at: 0,
        email_hash: String::new(),
        interactions_digest: None,
        ..b.clone()
    }
}

/// The webinar's registrations of these emails, by email.
fn registrations_by_email(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar: &WebinarId,
    emails: &[String],
) -> diesel::QueryResult<HashMap<String, RegistrationRow>> {
    Ok(
        registrations::by_emails_stored(conn, fields, tenant, webinar, emails)?
            .into_iter()
            .filter_map(|r| Some((r.email.clone()?, r)))
            .collect(),
    )
}

/// Attendees a sync compares and writes per transaction: memory and transaction length stay
/// the same whatever the webinar's size (a chunk is about 0.5 MB of reports and rows).
pub const SYNC_CHUNK: usize = 2_000;

/// Chunks a sync lets the provider's reader get ahead of the writer: up to 8,000 compact
/// reports (about 1 KB each with their interactions, so some 8 MB; registrant imports queue
/// 4,000 registrants). The reader decodes several times faster than the writer stores, so
/// the queue is usually full and its size is the sync's memory (50 chunks held a whole
/// 100,000-attendee report, 86 MiB peak), while one chunk waiting is all the writer needs
/// never to wait itself. While the queue is full the reader waits, and so does the HTTP
/// read; that wait is not ON24's time and does not count against the call's timeout
/// (`on24_client`'s streamed reads), so a slow database never makes a big report time out.
const SYNC_QUEUE: usize = 4;

/// Stores one chunk of a sync's figures (every row stamped `now`), in the caller's
/// transaction: rows new or with a different figure are written, each with exactly one
/// change-feed entry (when the email is registered); unchanged rows write nothing. When an
/// email appears twice in the chunk, its last report counts. Returns how many rows changed.
/// Interactions are stored likewise ([`store_interactions`]), each attendee's with one
/// ATTENDEE_INTERACTIONS entry when they changed; their digest on the metrics row changes
/// with them, without a metrics entry or a new `updated_at` when no figure changed.
///
/// Each chunk is consistent on its own (rows and their feed entries commit together), so a
/// sync stopped half-way leaves the chunks it stored, and the next sync, comparing against
/// them, writes only what is still missing or different.
pub fn store_chunk(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar: &WebinarId,
    reports: &[AttendeeReport],
    now: i64,
) -> Result<usize, Error> {
    let mut rows: Vec<MetricsRow> = Vec::with_capacity(reports.len());
    let mut at: HashMap<&str, usize> = HashMap::with_capacity(reports.len());
    let mut items: HashMap<&str, &[AttendeeInteraction]> = HashMap::with_capacity(reports.len());
    for r in reports {
        let row = to_row(tenant, webinar, r, now);
        items.insert(&r.email, &r.interactions);
        match at.get(r.email.as_str()) {
            Some(&i) => rows[i] = row,
            None => {
                at.insert(&r.email, rows.len());
                rows.push(row);
            }
        }
    }
    for row in &mut rows {
        let reported = items.get(row.email.as_str()).copied().unwrap_or_default();
        row.interactions_digest = sealing::interactions_digest(fields, reported);
    }
    let emails: Vec<String> = rows.iter().map(|r| r.email.clone()).collect();
    let existing: HashMap<String, MetricsRow> =
        metrics::for_emails(conn, fields, tenant, webinar, &emails)?
            .into_iter()
            .map(|m| (m.email.clone(), m))
            .collect();
    let interactions_changed =
        store_interactions(conn, fields, tenant, webinar, &rows, &items, &existing)?;
    let (mut inserts, mut updates, mut clear_keys) = (Vec::new(), Vec::new(), Vec::new());
    let mut digests = Vec::new();
    for row in rows {
        match existing.get(&row.email) {
            None => inserts.push(row),
            Some(old) if !same_figures(old, &row) => {
                if metrics::under_clear_key(old) {
                    clear_keys.push(row.email.clone());
                }
                updates.push(row);
            }
            // Same figures: at most the digest changes (the interactions did, or the row
            // predates digests), which is no change of the attendee's metrics.
            Some(old) if old.interactions_digest != row.interactions_digest => {
                digests.push((old.email_hash.clone(), row.interactions_digest));
            }
            Some(_) => {}
        }
    }
    metrics::set_interactions_digests(conn, tenant, webinar, &digests)?;
    let changes = metrics::Changed {
        inserts: &inserts,
        updates: &updates,
        clear_keys: &clear_keys,
    };
    let written = metrics::write_changed(conn, fields, tenant, webinar, now, changes)?;
    let mut feed: Vec<_> = metrics::registration_ids(conn, fields, tenant, webinar, &written)?
        .iter()
        .map(|(_, id)| {
            changes::change(tenant, ChangeKind::AttendeeMetrics, Some(webinar), Some(id))
        })
        .collect();
    feed.extend(
        metrics::registration_ids(conn, fields, tenant, webinar, &interactions_changed)?
            .iter()
            .map(|(_, id)| {
                changes::change(
                    tenant,
                    ChangeKind::AttendeeInteractions,
                    Some(webinar),
                    Some(id),
                )
            }),
    );
    // After the live end a changed figure can change the outcome (an on-demand viewing of a
    // live attendee); before it every outcome stays UNKNOWN.
    if !written.is_empty() && ended(conn, tenant, webinar, now)? {
        let outcomes: HashMap<String, Attendance> = inserts
            .iter()
            .chain(&updates)
            .map(|r| {
                (
                    r.email.clone(),
                    Attendance::from_minutes(r.live_minutes, r.archive_minutes),
                )
            })
            .collect();
        feed.extend(set_outcomes(conn, fields, tenant, webinar, &outcomes, now)?);
    }
    changes::append(conn, &feed)?;
    Ok(written.len())
}

/// Replaces the stored interactions of the chunk's attendees whose reported ones differ;
/// returns their emails. Unchanged attendees write nothing. `rows` are the chunk's metrics
/// rows carrying the digest of the reported interactions, `existing` the stored rows: an
/// attendee whose stored digest is the same is unchanged, one whose digest differs (made the
/// same way) changed, both known without reading the interactions. An attendee without a
/// stored row has no interactions stored either (they are written only beside the row, in
/// this transaction, and every erasure and purge deletes them with it or first), so theirs
/// changed exactly when the report has some. Only the rest (rows stored before digests) have
/// their interactions read, decrypted and compared.
fn store_interactions(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar: &WebinarId,
    rows: &[MetricsRow],
    reported: &HashMap<&str, &[AttendeeInteraction]>,
    existing: &HashMap<String, MetricsRow>,
) -> Result<Vec<String>, Error> {
    let (mut changed, mut compare) = (Vec::new(), Vec::new());
    for row in rows {
        let Some(old) = existing.get(&row.email) else {
            if reported
                .get(row.email.as_str())
                .is_some_and(|items| !items.is_empty())
            {
                changed.push(row.email.clone());
            }
            continue;
        };
        match (
            old.interactions_digest.as_deref(),
            row.interactions_digest.as_deref(),
        ) {
            (Some(s), Some(d)) if s == d => {}
            (Some(s), Some(d)) if sealing::digests_comparable(s, d) => {
                changed.push(row.email.clone());
            }
            _ => compare.push(row.email.clone()),
        }
    }
    let mut stored: HashMap<String, Vec<AttendeeInteraction>> = HashMap::new();
    if !compare.is_empty() {
        for row in interactions::for_emails(conn, fields, tenant, webinar, &compare)? {
            stored
                .entry(row.email.clone())
                .or_default()
                .push(row.interaction());
        }
    }
    for email in compare {
        let before = stored.get(&email).map(Vec::as_slice).unwrap_or_default();
        if before != reported.get(email.as_str()).copied().unwrap_or_default() {
            changed.push(email);
        }
    }
    let mut rows = Vec::new();
    for email in &changed {
        let items = reported.get(email.as_str()).copied().unwrap_or_default();
        rows.extend(
            items
                .iter()
                .enumerate()
                .map(|(n, i)| InteractionRow::new(tenant, webinar, email, n, i)),
        );
    }
    if !changed.is_empty() {
        interactions::replace(conn, fields, tenant, webinar, &changed, &rows)?;
    }
    Ok(changed)
}

/// True when the webinar's live broadcast ended before `now`.
fn ended(
    conn: &mut DbConnection,
    tenant: &TenantId,
    webinar: &WebinarId,
    now: i64,
) -> Result<bool, Error> {
    let Some(w) = webinars::find(conn, tenant, webinar)? else {
        return Ok(false);
    };
    Ok(w.start_at > 0 && w.start_at + i64::from(w.duration_minutes) * 60_000 <= now)
}

/// Gives the registrations of these emails their outcome where it differs (cancelled and
/// forgotten ones keep theirs); returns one REGISTRATION feed entry per registration changed.
fn set_outcomes(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar: &WebinarId,
    outcomes: &HashMap<String, Attendance>,
    now: i64,
) -> Result<Vec<crate::store::models::NewChange>, Error> {
    let emails: Vec<String> = outcomes.keys().cloned().collect();
    let mut by_outcome: HashMap<Attendance, Vec<RegistrationId>> = HashMap::new();
    for reg in registrations::by_emails_stored(conn, fields, tenant, webinar, &emails)? {
        let settled = [RegistrationStatus::Cancelled, RegistrationStatus::Forgotten]
            .map(RegistrationStatus::as_str)
            .contains(&reg.status.as_str());
        let Some(&outcome) = reg.email.as_ref().and_then(|e| outcomes.get(e)) else {
            continue;
        };
        if !settled && reg.attendance != outcome.as_str() {
            by_outcome
                .entry(outcome)
                .or_default()
                .push(reg.registration());
        }
    }
    let mut feed = Vec::new();
    for (outcome, ids) in by_outcome {
        registrations::set_attendance(conn, tenant, webinar, &ids, outcome, now)?;
        feed.extend(
            ids.iter().map(|id| {
                changes::change(tenant, ChangeKind::Registration, Some(webinar), Some(id))
            }),
        );
    }
    Ok(feed)
}

/// Once the live event has ended, gives every registration still UNKNOWN its outcome: from
/// its stored figures, or NO_SHOW when it has none. Each registration leaves UNKNOWN once, so
/// later syncs read only what their chunks changed ([`store_chunk`]). Returns how many
/// registrations changed (each with a REGISTRATION feed entry).
fn settle_attendance(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar: &WebinarId,
    now: i64,
) -> Result<usize, Error> {
    if !ended(conn, tenant, webinar, now)? {
        return Ok(0);
    }
    let (mut after, mut changed) = (None::<String>, 0);
    loop {
        let page = registrations::unknown_attendance(
            conn,
            fields,
            tenant,
            webinar,
            after.as_deref(),
            SYNC_CHUNK as i64,
        )?;
        let Some((last, _)) = page.last() else {
            return Ok(changed);
        };
        after = Some(last.to_string());
        let emails: Vec<String> = page.iter().map(|(_, e)| e.clone()).collect();
        let figures: HashMap<String, MetricsRow> =
            metrics::for_emails(conn, fields, tenant, webinar, &emails)?
                .into_iter()
                .map(|m| (m.email.clone(), m))
                .collect();
        let outcomes: HashMap<String, Attendance> = emails
            .into_iter()
            .map(|e| {
                let outcome = figures
                    .get(&e)
                    .map(|m| Attendance::from_minutes(m.live_minutes, m.archive_minutes))
                    .unwrap_or(Attendance::NoShow);
                (e, outcome)
            })
            .collect();
        let feed = set_outcomes(conn, fields, tenant, webinar, &outcomes, now)?;
        changed += feed.len();
        changes::append(conn, &feed)?;
    }
}

/// Registrants read from the provider that a sync compares and writes per transaction.
const IMPORT_CHUNK: usize = 1_000;

/// Stores one chunk of the provider's registrants (`hashes`: their keyed email hashes, or
/// empty when nobody is suppressed) in the caller's transaction: each person not registered
/// to the webinar here (by email, any status) and not suppressed becomes a registration of
/// origin ON24, DELIVERED with the provider's id, with one REGISTRATION feed entry. No job is
/// queued: the provider has them already. A concurrent sync that inserted the same person
/// first wins; this one skips them. Returns how many were created.
fn import_chunk(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar: &WebinarId,
    chunk: Vec<ProviderRegistrant>,
    hashes: &[String],
    now: i64,
) -> Result<usize, Error> {
    let chunk = without_suppressed(conn, tenant, chunk, hashes)?;
    // People already registered here are left to the insert's conflict on (tenant, webinar,
    // email), which the unique index decides row by row. A look-up first cost a query whose
    // plan PostgreSQL chose from statistics taken before a big import, scanning the whole
    // webinar per chunk (a minute for 100,000 registrants). Forgotten people, whose rows keep
    // no email, are suppressed and were skipped above.
    let mut seen: HashSet<String> = HashSet::with_capacity(chunk.len());
    let mut rows = Vec::new();
    for r in chunk {
        if !seen.insert(r.email.clone()) {
            continue;
        }
        rows.push(RegistrationRow {
            tenant: tenant.to_string(),
            id: RegistrationId::generate().to_string(),
            webinar_id: webinar.to_string(),
            email: Some(r.email),
            first_name: r.first_name,
            last_name: r.last_name,
            company: r.company,
            job_title: r.job_title,
            crm_reference_id: r.crm_reference_id,
            extra: r.fields.to_json(),
            status: RegistrationStatus::Delivered.as_str().into(),
            eventuserid: r.eventuserid,
            attempts: 0,
            last_error: None,
            next_attempt_at: None,
            request_id: None,
            delivered_at: Some(now),
            created_at: now,
            updated_at: now,
            origin: RegistrationOrigin::On24.as_str().into(),
            attendance: Attendance::Unknown.as_str().into(),
            email_hash: None,
        });
    }
    if rows.is_empty() {
        return Ok(0);
    }
    let inserted: HashSet<String> =
        registrations::insert_absent(conn, fields, tenant, webinar, &rows)?
            .into_iter()
            .collect();
    let rows: Vec<RegistrationRow> = rows
        .into_iter()
        .filter(|r| inserted.contains(&r.id))
        .collect();
    let feed: Vec<_> = rows
        .iter()
        .map(|r| {
            changes::change(
                tenant,
                ChangeKind::Registration,
                Some(webinar),
                Some(&r.registration()),
            )
        })
        .collect();
    changes::append(conn, &feed)?;
    Ok(rows.len())
}

/// Brings in the webinar's registrants that started at the provider (see [`import_chunk`]),
/// reading only those registered since `since` (the last finished sync; all when None).
/// The custom fields answering the webinar's stored questions are filed as answers
/// (`RegistrantFields::file_answers`), and the fields the tenant's minimisation policy does
/// not keep are dropped. Returns how many registrations were created, or the provider's
/// error.
pub async fn import_registrants(
    engine: &Engine,
    creds: &crate::provider::ProviderCredentials,
    tenant: &TenantId,
    webinar: &WebinarId,
    event: i64,
    since: Option<i64>,
    now: i64,
) -> Result<Result<usize, crate::provider::ProviderError>, Error> {
    let scope = SyncScope {
        registrants_since: since,
        ..SyncScope::default()
    };
    import_in_scope(engine, creds, tenant, webinar, event, scope, now).await
}

/// [`import_registrants`] of the registrants registered since `scope.registrants_since`,
/// filing answers under `scope.questions` when given (else the stored ones).
async fn import_in_scope(
    engine: &Engine,
    creds: &crate::provider::ProviderCredentials,
    tenant: &TenantId,
    webinar: &WebinarId,
    event: i64,
    scope: SyncScope,
    now: i64,
) -> Result<Result<usize, crate::provider::ProviderError>, Error> {
    // A tenant that keeps figures only of the people its CRM registered keeps no one else's
    // registration either.
    let (t, w) = (tenant.clone(), *webinar);
    let (policy, stored) = engine
        .store
        .run(move |conn| {
            let policy = super::minimisation::load(conn, &t)?;
            let stored = crate::store::webinars::find(conn, &t, &w)?
                .and_then(|row| row.registration_questions)
                .and_then(|json| RegistrationQuestion::list_from_json(&json));
            Ok::<_, Error>((policy, stored))
        })
        .await?;
    if policy.metrics_registered_only {
        return Ok(Ok(0));
    }
    let questions = scope.questions.or(stored).unwrap_or_default();
    let since = scope.registrants_since;
    let mut hasher = super::suppression::email_hasher(engine, tenant, false).await?;
    let fields = Arc::new(
        super::tenant_keys::field_cipher(engine, tenant, true)
            .await?
            .memoizing(),
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<ProviderRegistrant>>(SYNC_QUEUE);
    let pull = engine
        .provider
        .registrant_chunks(creds, event, since, IMPORT_CHUNK, tx);
    let store = async {
        let mut created = 0;
        while let Some(chunk) = rx.recv().await {
            // Addresses the service would refuse from the CRM are not brought in either.
            let chunk: Vec<ProviderRegistrant> = chunk
                .into_iter()
                .filter_map(|mut r| {
                    r.email = Email::parse(&r.email).ok()?.as_str().to_owned();
                    r.fields.file_answers(&questions);
                    policy.strip_registrant(&mut r);
                    Some(r)
                })
                .collect();
            let (t, w, f) = (tenant.clone(), *webinar, fields.clone());
            let n = store_guarded(
                engine,
                tenant,
                &mut hasher,
                &fields,
                chunk,
                |r| r.email.as_str(),
                move |conn, chunk, hashes| import_chunk(conn, &f, &t, &w, chunk, hashes, now),
            )
            .await?;
            if n > 0 {
                engine.signals.changes_added(tenant);
            }
            created += n;
        }
        Ok::<_, Error>(Ok(created))
    };
    read_while_storing(pull, store).await
}

/// Runs a streamed provider read (`pull`, sending chunks) and the writer storing them
/// (`store`, receiving until the channel closes) together. A failed write drops the pull (and
/// so the HTTP read), as does a provider error of the writer's own (an earlier read it
/// made); a failed pull closes the channel, so the writer ends after the chunks already sent,
/// which stay stored (valid data), and the pull's error is returned.
async fn read_while_storing<T>(
    pull: impl Future<Output = Result<(), crate::provider::ProviderError>>,
    store: impl Future<Output = Result<Result<T, crate::provider::ProviderError>, Error>>,
) -> Result<Result<T, crate::provider::ProviderError>, Error> {
    tokio::pin!(pull);
    tokio::pin!(store);
    let mut pulled = None;
    loop {
        tokio::select! {
            result = &mut pull, if pulled.is_none() => pulled = Some(result),
            stored = &mut store => {
                let stored = match stored? {
                    Ok(stored) => stored,
                    Err(e) => return Ok(Err(e)),
                };
                let pulled = match pulled {
                    Some(result) => result,
                    None => pull.await,
                };
                return Ok(pulled.map(|()| stored));
            }
        }
    }
}

/// The chunk's reports, only of people the CRM registered for the webinar when the tenant's
/// minimisation policy says so (ON24 also reports people who registered there directly).
fn registered_only(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar: &WebinarId,
    chunk: Vec<AttendeeReport>,
) -> Result<Vec<AttendeeReport>, Error> {
    if !super::minimisation::load(conn, tenant)?.metrics_registered_only {
        return Ok(chunk);
    }
    let emails: Vec<String> = chunk.iter().map(|r| r.email.clone()).collect();
    let found: HashSet<String> =
        crate::store::minimisation::registered(conn, fields, tenant, webinar, &emails)?
            .into_iter()
            .collect();
    Ok(chunk
        .into_iter()
        .filter(|r| found.contains(&r.email))
        .collect())
}

/// Writes one chunk of people (`write`, given their keyed email hashes, or none while the
/// tenant has no hash key) in its own transaction under the tenant's erasure lock, as a
/// registration does: a forget committed before is seen, one still to come erases what the
/// chunk stored. When the tenant's first forget made its hash key after `hasher` was read,
/// the hasher is made, the chunk hashed again and written again. `fields` (the tenant's
/// cipher, which hashes under the same key when it hashes emails) computes the hashes when it
/// can, so a memoizing one ([`FieldCipher::memoizing`]) hashes each email once per chunk.
/// Returns what `write` did.
async fn store_guarded<T, W>(
    engine: &Engine,
    tenant: &TenantId,
    hasher: &mut Option<super::suppression::EmailHasher>,
    fields: &FieldCipher,
    mut chunk: Vec<T>,
    email: fn(&T) -> &str,
    write: W,
) -> Result<usize, Error>
where
    T: Send + 'static,
    W: Fn(&mut DbConnection, Vec<T>, &[String]) -> Result<usize, Error> + Clone + Send + 'static,
{
    loop {
        let hashes = match hasher.as_ref() {
            // The cipher hashes under the same key as the hasher, and remembers each hash
            // for the chunk's later passes.
            Some(_) if fields.hashes_emails() => chunk
                .iter()
                .map(|r| fields.email_hash(email(r)).ok_or(Error::Internal))
                .collect::<Result<Vec<_>, _>>()?,
            Some(h) => chunk
                .iter()
                .map(|r| h.hash(email(r)))
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let (t, hashed, write) = (tenant.clone(), hasher.is_some(), write.clone());
        let stored = engine
            .store
            .transaction(move |conn| {
                suppressions::lock_tenant_erasure(conn, &t, suppressions::ErasureLock::Write)?;
                if !super::suppression::hashes_current(conn, &t, hashed)? {
                    return Ok(Err(chunk));
                }
                write(conn, chunk, &hashes).map(Ok)
            })
            .await?;
        match stored {
            Ok(n) => return Ok(n),
            // The tenant's first forget made its hash key meanwhile: hash with it.
            Err(again) if !hashed => {
                *hasher = super::suppression::email_hasher(engine, tenant, false).await?;
                if hasher.is_none() {
                    return Err(Error::Internal);
                }
                chunk = again;
            }
            Err(_) => return Err(Error::Internal),
        }
    }
}

/// The chunk's reports without those of suppressed people (`hashes`: their keyed email
/// hashes in order; empty when the tenant has no hash key, so nobody is suppressed). Read in
/// the chunk's transaction, so a forget committed before it is honoured.
fn without_suppressed<T>(
    conn: &mut DbConnection,
    tenant: &TenantId,
    chunk: Vec<T>,
    hashes: &[String],
) -> Result<Vec<T>, Error> {
    if hashes.is_empty() {
        return Ok(chunk);
    }
    let found: HashSet<String> = suppressions::present(conn, tenant, hashes)?
        .into_iter()
        .collect();
    if found.is_empty() {
        return Ok(chunk);
    }
    Ok(chunk
        .into_iter()
        .zip(hashes)
        .filter(|(_, h)| !found.contains(*h))
        .map(|(r, _)| r)
        .collect())
}

/// How long ON24 may take to show an attendee's activity: live attendance up to 2 hours, and
/// on-demand viewing up to 12 hours after it happened (its published freshness). A read at T
/// holds every activity up to T minus this.
pub const ACTIVITY_LAG_MS: i64 = 12 * 3_600_000;

/// The attendee activity a full read at `at` surely saw: up to `at` minus ON24's lag, in
/// whole seconds (ON24's date filter reads seconds).
pub fn read_up_to(at: i64) -> i64 {
    at.saturating_sub(ACTIVITY_LAG_MS).div_euclid(1000) * 1000
}

/// The activity window a long-tail pull at `at` reads: from the second after the webinar's
/// watermark (everything up to it was read) to what ON24 surely shows by `at`. Consecutive
/// windows neither overlap nor leave a gap, so each activity is read once. None without a
/// watermark: the pull reads everything (and sets one). An empty window (`until_ms` before
/// `from_ms`) reads nothing.
pub fn long_tail_window(
    watermark: Option<i64>,
    at: i64,
) -> Option<crate::provider::ActivityWindow> {
    let from_ms = watermark?.saturating_add(1000);
    Some(crate::provider::ActivityWindow {
        from_ms,
        until_ms: read_up_to(at).max(from_ms - 1000),
    })
}

/// Records that a sync of the webinar finished at `now`, having read every attendee activity
/// up to `read_up_to` (the webinar's watermark moves there, never back), once every chunk is
/// stored, and settles the attendance outcomes still UNKNOWN if the live event has ended.
/// Returns how many registrations changed outcome.
pub fn finish_sync(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar: &WebinarId,
    now: i64,
    read_up_to: i64,
) -> Result<usize, Error> {
    let settled = settle_attendance(conn, fields, tenant, webinar, now)?;
    webinars::set_last_metrics(conn, tenant, webinar, now)?;
    webinars::advance_metrics_watermark(conn, tenant, webinar, read_up_to)?;
    providers::set_last_metrics(conn, tenant, now)?;
    Ok(settled)
}

/// What a sync reads: the registrants that started at the provider since
/// `registrants_since` (the last finished sync; all when None), and the attendees whose last
/// activity falls in `activity` (all when None).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncScope {
    /// Registered at or after this (ms).
    pub registrants_since: Option<i64>,
    /// The attendee-activity window of a long-tail pull.
    pub activity: Option<crate::provider::ActivityWindow>,
    /// The webinar's custom registration questions as read for this sync, whose answers
    /// the registrants brought in show under `question_answers`; None: the stored ones.
    pub questions: Option<Vec<RegistrationQuestion>>,
}

/// Pulls the webinar's attendee report from the provider and stores it as it streams in:
/// the provider hands the report over in chunks while reading it, and each chunk is compared
/// and written in its own short transaction while the next is read, so neither the report nor
/// the webinar's stored rows are ever held whole. Used by `Metrics::sync_now` and by the
/// poller's sync jobs; the caller records the sync as finished ([`finish_sync`]) only when
/// the report ended well. Before the report, the registrants that started at the provider
/// since `scope.registrants_since` are brought in ([`import_registrants`]), so they
/// have their figures joined in the same sync. With `scope.activity`, only the attendees whose
/// last activity falls in it are read (nothing when it is empty). Returns (attendees read, rows changed,
/// registrations brought in), or the provider's error (chunks stored before it stay: they are
/// valid data, and the next sync compares with them).
pub async fn pull_and_store(
    engine: &Engine,
    creds: &crate::provider::ProviderCredentials,
    tenant: &TenantId,
    webinar: &WebinarId,
    event: i64,
    scope: SyncScope,
    now: i64,
) -> Result<Result<(usize, usize, usize), crate::provider::ProviderError>, Error> {
    let window = scope.activity;
    let imported = match import_in_scope(engine, creds, tenant, webinar, event, scope, now).await? {
        Ok(n) => n,
        Err(e) => return Ok(Err(e)),
    };
    if window.is_some_and(|w| w.until_ms < w.from_ms) {
        return Ok(Ok((0, 0, imported)));
    }
    // People on the tenant's suppression list have none of their figures stored.
    let mut hasher = super::suppression::email_hasher(engine, tenant, false).await?;
    // Interactions are stored sealed: the tenant's cipher, once for the whole sync, which
    // remembers each chunk's email hashes for the chunk's several passes.
    let fields = super::tenant_keys::field_cipher(engine, tenant, true)
        .await?
        .memoizing();
    let fields = Arc::new(without_clear_keys_if_none(engine, tenant, webinar, fields).await?);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<AttendeeReport>>(SYNC_QUEUE);
    let pull = engine
        .provider
        .attendee_chunks(creds, event, window, SYNC_CHUNK, tx);
    let store = async {
        let (mut attendees, mut changed) = (0, 0);
        while let Some(chunk) = rx.recv().await {
            attendees += chunk.len();
            let (t, w, f) = (tenant.clone(), *webinar, fields.clone());
            let n = store_guarded(
                engine,
                tenant,
                &mut hasher,
                &fields,
                chunk,
                |r| r.email.as_str(),
                move |conn, chunk, hashes| {
                    let chunk = without_suppressed(conn, &t, chunk, hashes)?;
                    let chunk = registered_only(conn, &f, &t, &w, chunk)?;
                    store_chunk(conn, &f, &t, &w, &chunk, now)
                },
            )
            .await?;
            if n > 0 {
                engine.signals.changes_added(tenant);
            }
            changed += n;
        }
        Ok::<_, Error>(Ok((attendees, changed, imported)))
    };
    read_while_storing(pull, store).await
}

/// The sync's cipher, told when the webinar holds no per-attendee row under a clear key
/// (rows from before emails were sealed), so each chunk's lookups ask for the keyed hashes
/// alone rather than for both keys of every email.
async fn without_clear_keys_if_none(
    engine: &Engine,
    tenant: &TenantId,
    webinar: &WebinarId,
    fields: FieldCipher,
) -> Result<FieldCipher, Error> {
    if !fields.hashes_emails() {
        return Ok(fields);
    }
    let (t, w) = (tenant.clone(), *webinar);
    let clear = engine
        .store
        .run(move |conn| {
            Ok::<_, Error>(
                metrics::has_clear_keys(conn, &t, &w)?
                    || interactions::has_clear_keys(conn, &t, &w)?,
            )
        })
        .await?;
    Ok(if clear {
        fields
    } else {
        fields.without_clear_keyed_rows()
    })
}

/// Writes a whole sync's figures in the caller's transaction, chunk by chunk
/// ([`store_chunk`]), then marks the sync finished. Returns how many rows changed.
/// The service itself syncs through [`pull_and_store`] (each chunk in its own transaction as
/// the report streams); this whole-report form is the engine benchmark's store-side figure.
pub fn store_reports(
    conn: &mut DbConnection,
    fields: &FieldCipher,
    tenant: &TenantId,
    webinar: &WebinarId,
    reports: &[AttendeeReport],
) -> Result<usize, Error> {
    let now = now_ms();
    let mut changed = 0;
    for chunk in reports.chunks(SYNC_CHUNK) {
        changed += store_chunk(conn, fields, tenant, webinar, chunk, now)?;
    }
    finish_sync(conn, fields, tenant, webinar, now, read_up_to(now))?;
    Ok(changed)
}

impl Metrics<'_> {
    /// A page of a webinar's per-attendee metrics, joined to registrations, in key order.
    /// Paged in the database by keyset on the email's keyed hash (the table's key within a
    /// webinar; the page token holds a hash, never an email): a
    /// page reads `page_size` rows however many attendees the webinar has, and attendees
    /// added or forgotten between pages neither shift nor repeat the others.
    pub async fn attendees(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
        page_size: i32,
        page_token: &str,
    ) -> Result<Page<AttendeeMetrics>, Error> {
        let limit = paging::limit(page_size)?;
        let kind = format!("attendees/{webinar}");
        let after = paging::decode_page_token(&kind, page_token)?;
        let (t, w) = (tenant.clone(), *webinar);
        let fields = super::tenant_keys::field_cipher(self.engine, tenant, false).await?;
        self.engine
            .store
            .run(move |conn| {
                let webinar = super::webinars::existing(conn, &t, &w)?;
                let rows = metrics::page(conn, &fields, &t, &w, after.as_deref(), limit + 1)?;
                let emails: Vec<String> = rows.iter().map(|r| r.email.clone()).collect();
                let registered = registrations_by_email(conn, &fields, &t, &w, &emails)?;
                Ok(super::webinars::page(
                    rows,
                    limit,
                    &kind,
                    |r| r.email_hash.clone(),
                    |r| joined(r, &webinar, registered.get(&r.email)),
                ))
            })
            .await
    }

    /// One attendee's metrics by registration (for change-feed snapshots).
    pub async fn for_registration(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
        registration: &RegistrationId,
    ) -> Result<Option<AttendeeMetrics>, Error> {
        let (t, w, r) = (tenant.clone(), *webinar, *registration);
        let fields = super::tenant_keys::field_cipher(self.engine, tenant, false).await?;
        self.engine
            .store
            .run(move |conn| {
                let webinar = super::webinars::existing(conn, &t, &w)?;
                let Some(mut reg) = registrations::get_stored(conn, &t, &w, &r)? else {
                    return Ok(None);
                };
                reg.email = registrations::email_of(&fields, &reg)?;
                // A forgotten registration has no email and so no metrics.
                let Some(email) = reg.email.clone() else {
                    return Ok(None);
                };
                let rows =
                    metrics::for_emails(conn, &fields, &t, &w, std::slice::from_ref(&email))?;
                Ok(rows.first().map(|m| joined(m, &webinar, Some(&reg))))
            })
            .await
    }

    /// A page of one registration's interactions (questions, poll and survey answers,
    /// resources, calls to action, certifications) in the order ON24 reported them. Empty for
    /// a forgotten registration or one with no interactions. Paged by keyset on the item's
    /// position.
    pub async fn interactions(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
        registration: &RegistrationId,
        page_size: i32,
        page_token: &str,
    ) -> Result<Page<AttendeeInteraction>, Error> {
        let limit = paging::limit(page_size)?;
        let kind = format!("interactions/{registration}");
        let after = paging::decode_page_token(&kind, page_token)?;
        let after: Option<i32> = match after {
            Some(a) => Some(
                a.parse()
                    .map_err(|_| Error::invalid("page_token", "is not a token of this list"))?,
            ),
            None => None,
        };
        let fields = super::tenant_keys::field_cipher(self.engine, tenant, false).await?;
        let (t, w, r) = (tenant.clone(), *webinar, *registration);
        self.engine
            .store
            .run(move |conn| {
                super::webinars::existing(conn, &t, &w)?;
                let reg = registrations::get_stored(conn, &t, &w, &r)?.ok_or_else(|| {
                    Error::not_found(format!("tenants/{t}/webinars/{w}/registrations/{r}"))
                })?;
                let rows = match registrations::email_of(&fields, &reg)?.as_deref() {
                    Some(email) => {
                        interactions::page(conn, &fields, &t, &w, email, after, limit + 1)?
                    }
                    None => Vec::new(),
                };
                Ok(super::webinars::page(
                    rows,
                    limit,
                    &kind,
                    |row| row.position.to_string(),
                    |row| row.interaction(),
                ))
            })
            .await
    }

    /// Aggregates of a webinar.
    pub async fn webinar(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
    ) -> Result<WebinarMetrics, Error> {
        let (t, w) = (tenant.clone(), *webinar);
        self.engine
            .store
            .run(move |conn| {
                let webinar = super::webinars::existing(conn, &t, &w)?;
                // Summed in the database: a 100,000-attendee webinar is one row back.
                let totals = metrics::totals(conn, &t, &w, webinar.duration_minutes)?;
                let by_status: BTreeMap<String, i64> =
                    registrations::count_by_status(conn, &t, &w)?
                        .into_iter()
                        .collect();
                let mut by_attendance: BTreeMap<Attendance, i64> =
                    Attendance::ALL.iter().map(|&a| (a, 0)).collect();
                for (stored, n) in registrations::count_by_attendance(conn, &t, &w)? {
                    if let Some(a) = Attendance::parse(&stored) {
                        *by_attendance.entry(a).or_insert(0) += n;
                    }
                }
                let mean = |sum: f64, n: i64| if n > 0 { sum / n as f64 } else { 0.0 };
                Ok(WebinarMetrics {
                    registrations_by_status: by_status,
                    registrations_by_attendance: by_attendance,
                    attendees: totals.attendees,
                    live_attendees: totals.live_attendees,
                    on_demand_attendees: totals.archive_attendees,
                    total_live_minutes: totals.live_minutes,
                    total_archive_minutes: totals.archive_minutes,
                    average_engagement_score: mean(totals.engagement_sum, totals.attendees),
                    // Each live attendee's percentage is min(live, duration) / duration.
                    average_live_attendance_percent: if webinar.duration_minutes > 0 {
                        mean(
                            totals.capped_live_minutes as f64 * 100.0
                                / f64::from(webinar.duration_minutes),
                            totals.live_attendees,
                        )
                    } else {
                        0.0
                    },
                    questions_asked: totals.questions_asked,
                    polls_answered: totals.polls_answered,
                    surveys_answered: totals.surveys_answered,
                    last_metrics_at: webinar.last_metrics_at,
                    next_metrics_at: webinar.next_metrics_at,
                })
            })
            .await
    }

    /// Pulls the webinar's metrics from the provider now. One pull per webinar at a time: a
    /// call while one runs (on this replica) waits for it and gets its result. During the
    /// tenant's quota slow-down no call reaches ON24 ([`Error::SlowedDown`]).
    pub async fn sync_now(
        &self,
        tenant: &TenantId,
        webinar: &WebinarId,
    ) -> Result<SyncReport, Error> {
        let key = (tenant.as_str().to_owned(), *webinar);
        let flight = self.engine.syncs.join(&key);
        match flight {
            Flight::Follower(mut rx) => match rx.wait_for(Option::is_some).await {
                Ok(result) => result.clone().unwrap_or(Err(Error::Internal)),
                // The running sync was cancelled before it finished.
                Err(_) => Err(Error::Unavailable(
                    "the running metrics sync stopped; retry".into(),
                )),
            },
            Flight::Leader(leader) => {
                let result = self.sync_once(tenant, webinar).await;
                leader.finish(result.clone());
                result
            }
        }
    }

    async fn sync_once(&self, tenant: &TenantId, webinar: &WebinarId) -> Result<SyncReport, Error> {
        let t = tenant.clone();
        let throttled_until = self
            .engine
            .store
            .run(move |conn| {
                providers::get(conn, &t)
                    .map(|row| row.and_then(|r| r.throttle_until))
                    .map_err(Error::from)
            })
            .await?;
        let now = now_ms();
        if let Some(until) = throttled_until.filter(|until| *until > now) {
            return Err(Error::SlowedDown {
                retry_after_ms: until - now,
            });
        }
        let (t, w) = (tenant.clone(), *webinar);
        let row = self
            .engine
            .store
            .run(move |conn| super::webinars::live(conn, &t, &w))
            .await?;
        let event = row.on24_event_id.ok_or_else(|| {
            Error::FailedPrecondition("the webinar does not exist at ON24 yet".into())
        })?;
        let creds = self.engine.providers().credentials(tenant).await?;
        let now = now_ms();
        // A sync the CRM asks for reads the registration questions every time (first, so
        // the registrants it brings in have their answers filed under them).
        let questions = super::registration_questions::read(self.engine, &creds, event).await;
        let scope = SyncScope {
            registrants_since: row.last_metrics_at,
            activity: None,
            questions: questions.clone(),
        };
        let pulled =
            pull_and_store(self.engine, &creds, tenant, webinar, event, scope, now).await?;
        self.engine
            .providers()
            .record(tenant, &pulled.as_ref().map(|_| ()).map_err(Clone::clone))
            .await?;
        let (attendees, changed, imported) =
            pulled.map_err(|e| Error::Unavailable(e.to_string()))?;
        // The live times of a webinar that has none (a linked one), so its outcomes can
        // settle.
        let times = if row.start_at == 0 {
            self.engine
                .provider
                .get_event(&creds, event)
                .await
                .ok()
                .and_then(|info| info.live_times())
        } else {
            None
        };
        let (t, w) = (tenant.clone(), *webinar);
        let fields = super::tenant_keys::field_cipher(self.engine, tenant, false).await?;
        let (settled, questions_changed) = self
            .engine
            .store
            .transaction(move |conn| {
                if let Some((start, minutes)) = times {
                    webinars::set_unknown_times(conn, &t, &w, start, minutes)?;
                }
                let questions_changed = match &questions {
                    Some(q) => super::registration_questions::store(conn, &t, &w, q, now)?,
                    None => false,
                };
                let settled = finish_sync(conn, &fields, &t, &w, now, read_up_to(now))?;
                Ok::<_, Error>((settled, questions_changed))
            })
            .await?;
        if settled > 0 || questions_changed {
            self.engine.signals.changes_added(tenant);
        }
        Ok(SyncReport {
            attendees,
            changed,
            registrations_imported: imported,
            attendance_settled: settled,
        })
    }

    /// Changes of the tenant after `cursor` (0: from the beginning), oldest first.
    pub async fn changes(
        &self,
        tenant: &TenantId,
        cursor: i64,
        limit: i32,
    ) -> Result<Vec<Change>, Error> {
        if cursor < 0 {
            return Err(Error::invalid("cursor", "must not be negative"));
        }
        let limit = paging::limit(limit)?;
        let t = tenant.clone();
        let rows = self
            .engine
            .store
            .run(move |conn| {
                // 0 starts at the oldest entry kept; any other cursor must not point before
                // an entry of this tenant the purge deleted.
                if cursor > 0 && cursor < crate::store::retention::horizon(conn, &t)? {
                    return Ok(None);
                }
                changes::list_after(conn, &t, cursor, limit)
                    .map(Some)
                    .map_err(Error::from)
            })
            .await?
            .ok_or(Error::CursorExpired {
                window_days: self.engine.retention.change_feed_days,
            })?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some(Change {
                    seq: r.seq,
                    kind: ChangeKind::parse(&r.kind)?,
                    webinar_id: r.webinar_id.as_deref().map(WebinarId::from_stored),
                    registration_id: r
                        .registration_id
                        .as_deref()
                        .map(RegistrationId::from_stored),
                    created_at: r.created_at,
                })
            })
            .collect())
    }

    /// Like `changes`, but when there is nothing after `cursor` waits (up to `max_wait`) for
    /// a wake-up of `tenant`'s watchers, then reads again. Only this tenant's changes wake it:
    /// made in this process, or on another replica and heard through the database
    /// (`workers::wake`). It never polls; the read at `max_wait` (the watch's heartbeat) also
    /// finds a change whose notification was lost. The watch stream of the API loops on this.
    pub async fn wait_changes(
        &self,
        tenant: &TenantId,
        cursor: i64,
        limit: i32,
        max_wait: Duration,
    ) -> Result<Vec<Change>, Error> {
        let mut wakes = self.engine.signals.subscribe_changes(tenant);
        let deadline = tokio::time::Instant::now() + max_wait;
        loop {
            wakes.mark_seen();
            let found = self.changes(tenant, cursor, limit).await?;
            if !found.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(found);
            }
            tokio::select! {
                () = wakes.changed() => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }
}

/// Which webinars have a metrics sync running on this replica, and where its result will be.
#[derive(Clone, Debug, Default)]
pub(crate) struct SyncsInFlight {
    running: Arc<Mutex<HashMap<SyncKey, SyncResult>>>,
}

type SyncKey = (String, WebinarId);
type SyncResult = tokio::sync::watch::Receiver<Option<Result<SyncReport, Error>>>;

/// The caller's part in a sync: run it, or wait for the one running.
enum Flight {
    Leader(LeaderGuard),
    Follower(SyncResult),
}

/// Held by the caller that runs the sync; publishes the result, and on drop (finished or
/// cancelled) clears the webinar's entry so the next call starts a new sync.
struct LeaderGuard {
    key: SyncKey,
    running: Arc<Mutex<HashMap<SyncKey, SyncResult>>>,
    tx: tokio::sync::watch::Sender<Option<Result<SyncReport, Error>>>,
}

impl LeaderGuard {
    fn finish(self, result: Result<SyncReport, Error>) {
        self.tx.send_replace(Some(result));
    }
}

impl Drop for LeaderGuard {
    fn drop(&mut self) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(&self.key);
        }
    }
}

impl SyncsInFlight {
    fn join(&self, key: &SyncKey) -> Flight {
        let mut running = match self.running.lock() {
            Ok(running) => running,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(rx) = running.get(key) {
            return Flight::Follower(rx.clone());
        }
        let (tx, rx) = tokio::sync::watch::channel(None);
        running.insert(key.clone(), rx);
        Flight::Leader(LeaderGuard {
            key: key.clone(),
            running: self.running.clone(),
            tx,
        })
    }
}
