//! Attendee analytics derived from simulated viewing: the event-level Attendees list and the
//! paginated Attendee Viewing Sessions.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde_json::{Value, json};

use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ApiResult};
use super::form::Params;
use super::render::{attendee, session};
use super::{event_id, page};
use crate::auth::Caller;
use crate::sim::Sim;
use crate::state::Usage;

type P = Path<Vec<(String, String)>>;

/// `GET /client/{clientId}/event/{eventId}/attendee`: the event's attendee report, paged, one entry per attendee with viewing.
pub async fn attendees(
    State(sim): State<Arc<Sim>>,
    Extension(c): Extension<Caller>,
    Path(p): P,
    q: Params,
) -> ApiResult<Response> {
    let id = event_id(&p)?;
    let store = sim.store();
    let ev = store.event(c.client_id, id)?;
    let span = (ev.duration_min + 15) * 60;
    let stats: Vec<_> = store
        // Attendance survives a soft delete, so by default active and deleted registrants count.
        .registrants_where(
            Some(id),
            move |r| r.event_id == id,
            q.get("userstatus").or(Some("all")),
        )
        .filter(|r| store.attended(r.eventuserid))
        .map(|r| (r, store.attendee_stats(r.eventuserid, span)))
        .collect();
    #[derive(serde::Serialize)]
    struct Body<T> {
        eventid: i64,
        totalattendees: usize,
        attendees: Vec<T>,
    }
    let body = Body {
        eventid: id,
        totalattendees: stats.len(),
        attendees: stats.iter().map(|(r, st)| attendee(r, st)).collect(),
    };
    // Serialised while the store is locked: the attendee views borrow from it.
    let bytes =
        serde_json::to_vec(&body).map_err(|_| ApiError::new(500, "Internal Server Error"))?;
    Ok(([(http::header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

/// `GET /client/{clientId}/event/{eventId}/attendeesession`: every viewing session of the event's attendees, paged.
pub async fn sessions(
    State(sim): State<Arc<Sim>>,
    Extension(c): Extension<Caller>,
    Path(p): P,
    q: Params,
) -> ApiResult<Json<Value>> {
    let id = event_id(&p)?;
    let (offset, per_page) = page(&q)?;
    let kind = q.get("sessionType").map(str::to_ascii_lowercase);
    let store = sim.store();
    store.event(c.client_id, id)?;
    let all: Vec<Value> = store
        .event_sessions(id)
        .into_iter()
        .filter(|s| match kind.as_deref() {
            Some("live") => s.usage == Usage::Live,
            Some("ondemand") => s.usage == Usage::Archived,
            Some("blocked") => store
                .registrants
                .get(&s.eventuserid)
                .is_some_and(|r| r.blocked),
            _ => true,
        })
        .filter_map(|s| store.registrants.get(&s.eventuserid).map(|r| (s, r)))
        .map(|(s, r)| session(s, r))
        .collect();
    let total = all.len();
    let items: Vec<Value> = all
        .into_iter()
        .skip(offset * per_page)
        .take(per_page)
        .collect();
    Ok(Json(json!({
        "totalattendeesessions": total,
        "pagecount": total.div_ceil(per_page),
        "currentpage": offset,
        "attendeesession": items,
    })))
}
