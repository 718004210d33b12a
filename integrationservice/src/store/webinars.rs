//! Queries on `webinars`: the tenant's webinars, their provider event ids, and the metrics
//! schedule the poller follows.

use diesel::prelude::*;

use super::models::WebinarRow;
use super::schema::webinars::dsl as w;
use super::status::WebinarStatus;
use super::{DbConnection, now_ms};
use crate::ids::{TenantId, WebinarId};

/// One webinar of a tenant, unless unlinked.
pub(crate) fn get(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &WebinarId,
) -> QueryResult<Option<WebinarRow>> {
    w::webinars
        .filter(w::tenant.eq(tenant.as_str()))
        .filter(w::id.eq(id.to_string()))
        .filter(w::deleted.eq(false))
        .select(WebinarRow::as_select())
        .first(conn)
        .optional()
}

/// One webinar of a tenant, unlinked or not.
pub(crate) fn find(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &WebinarId,
) -> QueryResult<Option<WebinarRow>> {
    w::webinars
        .filter(w::tenant.eq(tenant.as_str()))
        .filter(w::id.eq(id.to_string()))
        .select(WebinarRow::as_select())
        .first(conn)
        .optional()
}

/// Inserts a new webinar.
pub(crate) fn insert(conn: &mut DbConnection, row: &WebinarRow) -> QueryResult<()> {
    diesel::insert_into(w::webinars)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Writes every column of the row back.
pub(crate) fn save(conn: &mut DbConnection, row: &WebinarRow) -> QueryResult<()> {
    diesel::update(
        w::webinars
            .filter(w::tenant.eq(&row.tenant))
            .filter(w::id.eq(&row.id)),
    )
    .set(row)
    .execute(conn)
    .map(|_| ())
}

/// A page of a tenant's webinars, newest first, after `after` (exclusive); unlinked ones
/// only with `include_unlinked`.
pub(crate) fn list(
    conn: &mut DbConnection,
    tenant: &TenantId,
    include_unlinked: bool,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<WebinarRow>> {
    let mut q = w::webinars
        .filter(w::tenant.eq(tenant.as_str()))
        .into_boxed();
    if !include_unlinked {
        q = q.filter(w::deleted.eq(false));
    }
    // Ids are UUIDv7, so descending ids are newest first, as the API promises.
    if let Some(after) = after {
        q = q.filter(w::id.lt(after.to_owned()));
    }
    q.order(w::id.desc())
        .limit(limit)
        .select(WebinarRow::as_select())
        .load(conn)
}

/// Webinars whose next metrics pull is due, across tenants.
pub(crate) fn due_for_metrics(
    conn: &mut DbConnection,
    now: i64,
    limit: i64,
) -> QueryResult<Vec<WebinarRow>> {
    w::webinars
        .filter(w::deleted.eq(false))
        .filter(w::on24_event_id.is_not_null())
        .filter(w::next_metrics_at.le(now))
        .order(w::next_metrics_at.asc())
        .limit(limit)
        .select(WebinarRow::as_select())
        .load(conn)
}

/// Sets when the poller should next pull this webinar's metrics (None: never again).
pub(crate) fn schedule_metrics(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &WebinarId,
    next: Option<i64>,
) -> QueryResult<usize> {
    diesel::update(
        w::webinars
            .filter(w::tenant.eq(tenant.as_str()))
            .filter(w::id.eq(id.to_string())),
    )
    .set((w::next_metrics_at.eq(next), w::updated_at.eq(now_ms())))
    .execute(conn)
}

/// The tenant's live webinar with this CRM reference, if any.
pub(crate) fn by_reference(
    conn: &mut DbConnection,
    tenant: &TenantId,
    reference: &str,
) -> QueryResult<Option<WebinarRow>> {
    w::webinars
        .filter(w::tenant.eq(tenant.as_str()))
        .filter(w::crm_reference_id.eq(reference))
        .filter(w::deleted.eq(false))
        .select(WebinarRow::as_select())
        .first(conn)
        .optional()
}

/// What the provider said about a webinar's event, to link it with.
#[derive(Debug)]
pub(crate) struct EventLink {
    /// The provider's event id.
    pub event_id: i64,
    /// Where attendees join.
    pub audience_url: Option<String>,
    /// The provider's report page.
    pub report_url: Option<String>,
    /// The presenter's preview.
    pub preview_url: Option<String>,
    /// When the poller next pulls its metrics.
    pub next_metrics_at: Option<i64>,
}

/// Links a webinar to its provider event and makes it ACTIVE, only while it is unlinked or
/// linked to this same event (when two runs of a create raced, the first recorded wins);
/// true when it was linked.
pub(crate) fn link_event(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &WebinarId,
    link: EventLink,
    now: i64,
) -> QueryResult<bool> {
    let n = diesel::update(
        w::webinars
            .filter(w::tenant.eq(tenant.as_str()))
            .filter(w::id.eq(id.to_string()))
            .filter(
                w::on24_event_id
                    .is_null()
                    .or(w::on24_event_id.eq(link.event_id)),
            ),
    )
    .set((
        w::on24_event_id.eq(Some(link.event_id)),
        w::status.eq(WebinarStatus::Active.as_str()),
        w::last_error.eq(None::<String>),
        w::audience_url.eq(link.audience_url),
        w::report_url.eq(link.report_url),
        w::preview_url.eq(link.preview_url),
        w::next_metrics_at.eq(link.next_metrics_at),
        w::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n > 0)
}

/// Marks a webinar FAILED with the provider's reason (its creation stopped for good).
pub(crate) fn mark_failed(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &WebinarId,
    reason: &str,
) -> QueryResult<()> {
    diesel::update(
        w::webinars
            .filter(w::tenant.eq(tenant.as_str()))
            .filter(w::id.eq(id.to_string())),
    )
    .set((
        w::status.eq(WebinarStatus::Failed.as_str()),
        w::last_error.eq(Some(reason)),
        w::updated_at.eq(now_ms()),
    ))
    .execute(conn)
    .map(|_| ())
}

/// Records when the webinar's metrics were last pulled.
pub(crate) fn set_last_metrics(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &WebinarId,
    at: i64,
) -> QueryResult<()> {
    diesel::update(
        w::webinars
            .filter(w::tenant.eq(tenant.as_str()))
            .filter(w::id.eq(id.to_string())),
    )
    .set(w::last_metrics_at.eq(Some(at)))
    .execute(conn)
    .map(|_| ())
}

/// Moves the webinar's attendee-activity watermark forward to `until` (ms); never back, so a
/// full sync and a long-tail pull finishing in either order leave the later one.
pub(crate) fn advance_metrics_watermark(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &WebinarId,
    until: i64,
) -> QueryResult<()> {
    diesel::update(
        w::webinars
            .filter(w::tenant.eq(tenant.as_str()))
            .filter(w::id.eq(id.to_string()))
            .filter(
                w::metrics_watermark
                    .is_null()
                    .or(w::metrics_watermark.lt(until)),
            ),
    )
    .set(w::metrics_watermark.eq(Some(until)))
    .execute(conn)
    .map(|_| ())
}

/// Which of these provider event ids the tenant has or had as a webinar (unlinked included).
pub(crate) fn known_events(
    conn: &mut DbConnection,
    tenant: &TenantId,
    event_ids: &[i64],
) -> QueryResult<Vec<i64>> {
    let mut known = Vec::new();
    // Bounded statements: SQLite limits bound parameters.
    for chunk in event_ids.chunks(500) {
        let found: Vec<Option<i64>> = w::webinars
            .filter(w::tenant.eq(tenant.as_str()))
            .filter(w::on24_event_id.eq_any(chunk))
            .select(w::on24_event_id)
            .load(conn)?;
        known.extend(found.into_iter().flatten());
    }
    Ok(known)
}

/// Records the webinar's custom registration questions as the provider defines them (a JSON
/// array) and when they were read; `changed` also moves the webinar's update time.
pub(crate) fn set_questions(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &WebinarId,
    questions: &str,
    at: i64,
    changed: bool,
) -> QueryResult<()> {
    let target = w::webinars
        .filter(w::tenant.eq(tenant.as_str()))
        .filter(w::id.eq(id.to_string()));
    let read = (
        w::registration_questions.eq(Some(questions)),
        w::questions_read_at.eq(Some(at)),
    );
    if changed {
        diesel::update(target)
            .set((read, w::updated_at.eq(at)))
            .execute(conn)
    } else {
        diesel::update(target).set(read).execute(conn)
    }
    .map(|_| ())
}

/// Gives a webinar whose live times are unknown (a linked one: `start_at` 0) the times the
/// provider reports; a webinar that has times keeps them. True when they were set.
/// Copies a provider event's title, time zone and language onto a linked webinar that has
/// no title yet (one whose event was not read before); returns whether it did.
pub(crate) fn set_unknown_details(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &WebinarId,
    (title, time_zone, language): (&str, &str, &str),
) -> QueryResult<bool> {
    let n = diesel::update(
        w::webinars
            .filter(w::tenant.eq(tenant.as_str()))
            .filter(w::id.eq(id.to_string()))
            .filter(w::title.eq("")),
    )
    .set((
        w::title.eq(title),
        w::time_zone.eq(time_zone),
        w::language.eq(language),
    ))
    .execute(conn)?;
    Ok(n > 0)
}

pub(crate) fn set_unknown_times(
    conn: &mut DbConnection,
    tenant: &TenantId,
    id: &WebinarId,
    start_at: i64,
    duration_minutes: i32,
) -> QueryResult<bool> {
    let n = diesel::update(
        w::webinars
            .filter(w::tenant.eq(tenant.as_str()))
            .filter(w::id.eq(id.to_string()))
            .filter(w::start_at.eq(0)),
    )
    .set((
        w::start_at.eq(start_at),
        w::duration_minutes.eq(duration_minutes),
    ))
    .execute(conn)?;
    Ok(n > 0)
}
