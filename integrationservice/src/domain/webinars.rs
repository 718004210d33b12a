//! Webinars: create at the provider (through the outbox), link an existing provider event,
//! backfill the provider's past events, get, list, update and unlink. Creating and updating commit the row and the job together.

use super::{
    ChangeKind, CrmReference, Engine, Error, Page, RegistrationQuestion, RequestId, TenantId,
    Webinar, WebinarId, WebinarInput, WebinarPatch, WebinarStatus, jobs::JobKind, paging,
};
use crate::store::models::{NewJob, WebinarRow};
use crate::store::{DbConnection, changes, now_ms, outbox, webinars};

/// Webinar service.
#[derive(Debug)]
pub struct Webinars<'a> {
    pub(crate) engine: &'a Engine,
}

/// Row to domain type.
pub fn view(row: &WebinarRow) -> Webinar {
    Webinar {
        tenant: TenantId::from_stored(&row.tenant),
        id: WebinarId::from_stored(&row.id),
        crm_reference_id: row.crm_reference_id.clone(),
        title: row.title.clone(),
        description: row.description.clone(),
        start_at: row.start_at,
        duration_minutes: row.duration_minutes,
        time_zone: row.time_zone.clone(),
        language: row.language.clone(),
        event_type: row.event_type.clone(),
        on24_event_id: row.on24_event_id,
        linked: row.linked,
        status: WebinarStatus::parse(&row.status).unwrap_or(WebinarStatus::Failed),
        status_message: row.last_error.clone(),
        audience_url: row.audience_url.clone(),
        report_url: row.report_url.clone(),
        preview_url: row.preview_url.clone(),
        created_at: row.created_at,
        updated_at: row.updated_at,
        registration_questions: row
            .registration_questions
            .as_deref()
            .and_then(RegistrationQuestion::list_from_json),
        questions_read_at: row.questions_read_at,
    }
}

/// How far back a backfill may reach, in days (ON24 lists six months per read, so this is
/// at most five reads).
pub const MAX_BACKFILL_DAYS: u32 = 730;

fn job(row: &WebinarRow, kind: JobKind, paused: bool) -> NewJob {
    let mut job = outbox::new_job(&row.tenant_id(), kind, Some(&row.webinar()), None, None);
    if paused {
        job.state = outbox::PAUSED.to_owned();
    }
    job
}

/// A webinar of the tenant that still takes writes (registrations, updates, metrics pulls):
/// NOT_FOUND if the tenant has no such webinar, `WebinarUnlinked` once it was unlinked.
pub(crate) fn live(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &WebinarId,
) -> Result<WebinarRow, Error> {
    let row = existing(conn, tenant, id)?;
    if row.deleted {
        return Err(Error::WebinarUnlinked {
            resource: format!("tenants/{tenant}/webinars/{id}"),
        });
    }
    Ok(row)
}

/// A webinar of the tenant, unlinked or not (reads: its registrations and metrics are kept
/// after an unlink), or NOT_FOUND.
pub(crate) fn existing(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &WebinarId,
) -> Result<WebinarRow, Error> {
    webinars::find(conn, tenant, id)?
        .ok_or_else(|| Error::not_found(format!("tenants/{tenant}/webinars/{id}")))
}

fn by_reference(
    conn: &mut DbConnection,
    tenant: &TenantId,
    reference: &str,
) -> Result<Option<WebinarRow>, Error> {
    Ok(webinars::by_reference(conn, tenant, reference)?)
}

impl Webinars<'_> {
    /// Accepts a webinar to create at the provider (status PENDING until the worker ran).
    /// Retrying with the same `request_id` returns the webinar the first call created.
    pub async fn create(
        &self,
        tenant: &TenantId,
        input: WebinarInput,
        request_id: Option<RequestId>,
    ) -> Result<Webinar, Error> {
        let request_id = request_id.map(|r| r.to_string());
        let t = tenant.clone();
        let row = self
            .engine
            .store
            .transaction(move |conn| {
                let config = super::providers::enabled(conn, &t)?;
                if let Some(existing) = by_reference(conn, &t, input.crm_reference_id.as_str())? {
                    if request_id.is_some() && existing.request_id == request_id {
                        return Ok(existing);
                    }
                    return Err(Error::AlreadyExists {
                        resource: format!(
                            "webinar with crm_reference_id {}",
                            input.crm_reference_id
                        ),
                    });
                }
                let now = now_ms();
                let row = WebinarRow {
                    tenant: t.to_string(),
                    id: WebinarId::generate().to_string(),
                    crm_reference_id: input.crm_reference_id.into_string(),
                    request_id,
                    description: input.description.map(|d| d.into_string()),
                    on24_event_id: None,
                    linked: false,
                    title: input.title.into_string(),
                    start_at: input.start_at.as_millis(),
                    duration_minutes: input.duration_minutes.get() as i32,
                    time_zone: input.time_zone.into_string(),
                    language: input.language.into_string(),
                    event_type: input.event_type.into_string(),
                    status: WebinarStatus::Pending.as_str().into(),
                    last_error: None,
                    audience_url: None,
                    report_url: None,
                    preview_url: None,
                    next_metrics_at: None,
                    last_metrics_at: None,
                    metrics_watermark: None,
                    deleted: false,
                    created_at: now,
                    updated_at: now,
                    registration_questions: None,
                    questions_read_at: None,
                };
                webinars::insert(conn, &row)?;
                outbox::enqueue(
                    conn,
                    &[job(
                        &row,
                        JobKind::CreateEvent,
                        super::providers::is_blocked(&config),
                    )],
                )?;
                changes::append(
                    conn,
                    &[changes::change(
                        &t,
                        ChangeKind::Webinar,
                        Some(&row.webinar()),
                        None,
                    )],
                )?;
                Ok(row)
            })
            .await?;
        self.engine.signals.jobs_added();
        self.engine.signals.changes_added(tenant);
        Ok(view(&row))
    }

    /// Links an existing provider event; its URLs are read by a job.
    pub async fn link(
        &self,
        tenant: &TenantId,
        on24_event_id: i64,
        crm_reference_id: &CrmReference,
        request_id: Option<RequestId>,
    ) -> Result<Webinar, Error> {
        if on24_event_id <= 0 {
            return Err(Error::invalid("on24_event_id", "must be positive"));
        }
        let request_id = request_id.map(|r| r.to_string());
        let (t, reference) = (tenant.clone(), crm_reference_id.as_str().to_owned());
        let row = self
            .engine
            .store
            .transaction(move |conn| {
                let config = super::providers::enabled(conn, &t)?;
                if let Some(existing) = by_reference(conn, &t, &reference)? {
                    if existing.on24_event_id == Some(on24_event_id) {
                        return Ok(existing);
                    }
                    return Err(Error::AlreadyExists {
                        resource: format!("webinar with crm_reference_id {reference}"),
                    });
                }
                let now = now_ms();
                let row = WebinarRow {
                    tenant: t.to_string(),
                    id: WebinarId::generate().to_string(),
                    crm_reference_id: reference,
                    request_id,
                    description: None,
                    on24_event_id: Some(on24_event_id),
                    linked: true,
                    title: String::new(),
                    start_at: 0,
                    duration_minutes: 0,
                    time_zone: String::new(),
                    language: String::new(),
                    event_type: String::new(),
                    status: WebinarStatus::Active.as_str().into(),
                    last_error: None,
                    audience_url: None,
                    report_url: None,
                    preview_url: None,
                    next_metrics_at: Some(now),
                    last_metrics_at: None,
                    metrics_watermark: None,
                    deleted: false,
                    created_at: now,
                    updated_at: now,
                    registration_questions: None,
                    questions_read_at: None,
                };
                webinars::insert(conn, &row)?;
                outbox::enqueue(
                    conn,
                    &[job(
                        &row,
                        JobKind::RefreshEvent,
                        super::providers::is_blocked(&config),
                    )],
                )?;
                changes::append(
                    conn,
                    &[changes::change(
                        &t,
                        ChangeKind::Webinar,
                        Some(&row.webinar()),
                        None,
                    )],
                )?;
                Ok(row)
            })
            .await?;
        self.engine.signals.jobs_added();
        self.engine.signals.changes_added(tenant);
        Ok(view(&row))
    }

    /// Links the tenant's past provider events whose live start is at or after `since_ms` and
    /// whose live broadcast has ended, each with the CRM reference `on24-{eventId}` and a
    /// metrics sync queued at once (it brings the registrants that started at the provider as
    /// registrations of origin ON24, then their figures); the poller then keeps them on the
    /// metrics schedule (its long tail for recent events). An event the tenant has or had as a
    /// webinar, unlinked ones included, is left alone, so a repeated backfill links nothing
    /// twice; so is one whose reference another webinar holds.
    pub async fn backfill(
        &self,
        tenant: &TenantId,
        since_ms: i64,
    ) -> Result<super::BackfillReport, Error> {
        let now = now_ms();
        if since_ms >= now {
            return Err(Error::invalid("since", "must be in the past"));
        }
        if since_ms < now - i64::from(MAX_BACKFILL_DAYS) * 86_400_000 {
            return Err(Error::invalid(
                "since",
                format!("must be at most {MAX_BACKFILL_DAYS} days ago"),
            ));
        }
        let t = tenant.clone();
        self.engine
            .store
            .run(move |conn| super::providers::enabled(conn, &t).map(|_| ()))
            .await?;
        let creds = self.engine.providers().credentials(tenant).await?;
        let listed = self
            .engine
            .provider
            .past_events(&creds, since_ms, now)
            .await;
        self.engine
            .providers()
            .record(tenant, &listed.as_ref().map(|_| ()).map_err(Clone::clone))
            .await?;
        let events = listed.map_err(|e| Error::Unavailable(e.to_string()))?;
        let found = events.len();
        let t = tenant.clone();
        let (rows, already_linked) = self
            .engine
            .store
            .transaction(move |conn| {
                let config = super::providers::enabled(conn, &t)?;
                let ids: Vec<i64> = events.iter().map(|e| e.info.event_id).collect();
                let known: std::collections::HashSet<i64> = webinars::known_events(conn, &t, &ids)?
                    .into_iter()
                    .collect();
                let paused = super::providers::is_blocked(&config);
                let now = now_ms();
                let (mut rows, mut already) = (Vec::new(), 0);
                for e in events {
                    if known.contains(&e.info.event_id) {
                        already += 1;
                        continue;
                    }
                    let reference = format!("on24-{}", e.info.event_id);
                    if by_reference(conn, &t, &reference)?.is_some() {
                        continue;
                    }
                    let row = WebinarRow {
                        tenant: t.to_string(),
                        id: WebinarId::generate().to_string(),
                        crm_reference_id: reference,
                        request_id: None,
                        description: None,
                        on24_event_id: Some(e.info.event_id),
                        linked: true,
                        title: e.title,
                        start_at: e.start_ms,
                        duration_minutes: e.duration_minutes,
                        time_zone: e.time_zone,
                        language: e.language,
                        event_type: e.event_type,
                        status: WebinarStatus::Active.as_str().into(),
                        last_error: None,
                        audience_url: e.info.audience_url,
                        report_url: e.info.report_url,
                        preview_url: e.info.preview_url,
                        // The poller puts it on the metrics schedule at its next pass.
                        next_metrics_at: Some(now),
                        last_metrics_at: None,
                        metrics_watermark: None,
                        deleted: false,
                        created_at: now,
                        updated_at: now,
                        registration_questions: None,
                        questions_read_at: None,
                    };
                    webinars::insert(conn, &row)?;
                    outbox::enqueue(conn, &[job(&row, JobKind::SyncMetrics, paused)])?;
                    changes::append(
                        conn,
                        &[changes::change(
                            &t,
                            ChangeKind::Webinar,
                            Some(&row.webinar()),
                            None,
                        )],
                    )?;
                    rows.push(row);
                }
                Ok::<_, Error>((rows, already))
            })
            .await?;
        if !rows.is_empty() {
            self.engine.signals.jobs_added();
            self.engine.signals.changes_added(tenant);
        }
        Ok(super::BackfillReport {
            linked: rows.iter().map(view).collect(),
            found,
            already_linked,
        })
    }

    /// One webinar.
    pub async fn get(&self, tenant: &TenantId, id: &WebinarId) -> Result<Webinar, Error> {
        let (t, i) = (tenant.clone(), *id);
        let row = self
            .engine
            .store
            .run(move |conn| existing(conn, &t, &i))
            .await?;
        Ok(view(&row))
    }

    /// A page of the tenant's webinars, newest first; unlinked ones only if asked.
    pub async fn list(
        &self,
        tenant: &TenantId,
        include_unlinked: bool,
        page_size: i32,
        page_token: &str,
    ) -> Result<Page<Webinar>, Error> {
        let limit = paging::limit(page_size)?;
        let after = paging::decode_page_token("webinars", page_token)?;
        let t = tenant.clone();
        let rows = self
            .engine
            .store
            .run(move |conn| {
                webinars::list(conn, &t, include_unlinked, after.as_deref(), limit + 1)
                    .map_err(Error::from)
            })
            .await?;
        Ok(page(rows, limit, "webinars", |r| r.id.clone(), view))
    }

    /// Changes a webinar; the provider is updated by a job once the event exists there.
    pub async fn update(
        &self,
        tenant: &TenantId,
        id: &WebinarId,
        patch: WebinarPatch,
    ) -> Result<Webinar, Error> {
        // The CRM reference is ours alone; every other field is part of the provider's event.
        let provider_change = patch.title.is_some()
            || patch.description.is_some()
            || patch.start_at.is_some()
            || patch.duration_minutes.is_some()
            || patch.time_zone.is_some()
            || patch.language.is_some();
        let (t, i) = (tenant.clone(), *id);
        let row = self
            .engine
            .store
            .transaction(move |conn| {
                let config = super::providers::enabled(conn, &t)?;
                let mut row = live(conn, &t, &i)?;
                if let Some(reference) = patch.crm_reference_id.map(CrmReference::into_string) {
                    if by_reference(conn, &t, &reference)?.is_some_and(|other| other.id != row.id) {
                        return Err(Error::AlreadyExists {
                            resource: format!("webinar with crm_reference_id {reference}"),
                        });
                    }
                    row.crm_reference_id = reference;
                }
                if let Some(v) = patch.language {
                    row.language = v.into_string();
                }
                if let Some(v) = patch.title {
                    row.title = v.into_string();
                }
                if let Some(v) = patch.description {
                    row.description = v.map(|d| d.into_string());
                }
                if let Some(v) = patch.start_at {
                    row.start_at = v.as_millis();
                }
                if let Some(v) = patch.duration_minutes {
                    row.duration_minutes = v.get() as i32;
                }
                if let Some(v) = patch.time_zone {
                    row.time_zone = v.into_string();
                }
                row.updated_at = now_ms();
                webinars::save(conn, &row)?;
                // A webinar still PENDING is created from the latest row; only an existing
                // provider event needs an update job.
                if provider_change && row.on24_event_id.is_some() {
                    outbox::enqueue(
                        conn,
                        &[job(
                            &row,
                            JobKind::UpdateEvent,
                            super::providers::is_blocked(&config),
                        )],
                    )?;
                }
                changes::append(
                    conn,
                    &[changes::change(
                        &t,
                        ChangeKind::Webinar,
                        Some(&row.webinar()),
                        None,
                    )],
                )?;
                Ok::<_, Error>(row)
            })
            .await?;
        self.engine.signals.jobs_added();
        self.engine.signals.changes_added(tenant);
        Ok(view(&row))
    }

    /// Unlinks a webinar from this service (the provider event is left as it is).
    pub async fn unlink(&self, tenant: &TenantId, id: &WebinarId) -> Result<Webinar, Error> {
        let (t, i) = (tenant.clone(), *id);
        let row = self
            .engine
            .store
            .transaction(move |conn| {
                let mut row = existing(conn, &t, &i)?;
                // Unlinking twice answers the unlinked webinar, as retries expect.
                if row.deleted {
                    return Ok(row);
                }
                row.deleted = true;
                row.status = WebinarStatus::Unlinked.as_str().into();
                row.next_metrics_at = None;
                row.updated_at = now_ms();
                webinars::save(conn, &row)?;
                changes::append(
                    conn,
                    &[changes::change(
                        &t,
                        ChangeKind::Webinar,
                        Some(&row.webinar()),
                        None,
                    )],
                )?;
                Ok::<_, Error>(row)
            })
            .await?;
        self.engine.signals.changes_added(tenant);
        Ok(view(&row))
    }
}

/// Cuts `limit + 1` rows into a page and the token of the next one.
pub(crate) fn page<R, T>(
    mut rows: Vec<R>,
    limit: i64,
    kind: &str,
    key: impl Fn(&R) -> String,
    map: impl Fn(&R) -> T,
) -> Page<T> {
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_page_token = match (more, rows.last()) {
        (true, Some(last)) => paging::encode_page_token(kind, &key(last)),
        _ => String::new(),
    };
    Page {
        items: rows.iter().map(map).collect(),
        next_page_token,
    }
}
