//! Attendee analytics derived from simulated viewing: the event-level Attendees list and the
//! paginated Attendee Viewing Sessions.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ApiResult};
use super::form::Params;
use super::render::{attendee, session};
use super::{event_id, page};
use crate::auth::Caller;
use crate::sim::Sim;
use crate::state::time::parse_query_date;
use crate::state::{Store, Usage};

type P = Path<Vec<(String, String)>>;

/// The attendee report's date filter: `startDate`/`endDate` (a date, the whole day in Pacific
/// Time, or a time with its offset) bound the attendee activity, both ends included;
/// `dateFilterMode=lastActivity` matches attendees whose last activity is in the window, no
/// mode those with any activity (a session or an interaction) in it.
struct ActivityFilter {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    last_only: bool,
}

impl ActivityFilter {
    fn new(q: &Params) -> ApiResult<Self> {
        let bad = || ApiError::bad_request("Error, incorrect date formats.");
        let last_only = match q.get("dateFilterMode") {
            None => false,
            Some(m) if m.eq_ignore_ascii_case("lastactivity") => true,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "Invalid value for the dateFilterMode parameter.",
                ));
            }
        };
        let from = q
            .get("startDate")
            .map(|v| parse_query_date(v, false).ok_or_else(bad))
            .transpose()?;
        let to = q
            .get("endDate")
            .map(|v| parse_query_date(v, true).ok_or_else(bad))
            .transpose()?;
        if let (Some(f), Some(t)) = (from, to)
            && t < f
        {
            return Err(bad());
        }
        Ok(Self {
            from,
            to,
            last_only,
        })
    }

    fn within(&self, t: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|to| t <= to)
    }

    fn matches(&self, store: &Store, eventuserid: i64) -> bool {
        if self.from.is_none() && self.to.is_none() {
            return true;
        }
        let times = store.activity_times(eventuserid);
        if self.last_only {
            times.iter().max().is_some_and(|t| self.within(*t))
        } else {
            times.iter().any(|t| self.within(*t))
        }
    }
}

/// `GET /client/{clientId}/event/{eventId}/attendee`: the event's attendee report, one entry per attendee with viewing, optionally only those active within a date window.
pub async fn attendees(
    State(sim): State<Arc<Sim>>,
    Extension(c): Extension<Caller>,
    Path(p): P,
    q: Params,
) -> ApiResult<Response> {
    let id = event_id(&p)?;
    let filter = ActivityFilter::new(&q)?;
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
        .filter(|r| filter.matches(&store, r.eventuserid))
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
