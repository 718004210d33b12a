//! Webinar routes: list (client-level Events analytics), create, get (Metadata and Usage),
//! update and delete.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use chrono::Utc;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::form::{FormFields, Params};
use super::{event_id, page};
use crate::auth::Caller;
use crate::shapes::Shapes;
use crate::sim::Sim;
use crate::state::events::DateFilterMode;
use crate::state::time::parse_query_date;

/// ON24 limits a `startDate`..`endDate` range to six months.
const MAX_RANGE_DAYS: i64 = 183;

/// `GET /client/{clientId}/event`: the client's events, filtered by date range and mode, paged.
pub async fn list(
    State(sim): State<Arc<Sim>>,
    Extension(c): Extension<Caller>,
    q: Params,
) -> ApiResult<Json<Value>> {
    let bad_date = || ApiError::bad_request("Error, incorrect date formats.");
    let from = q
        .get("startDate")
        .map(|v| parse_query_date(v, false).ok_or_else(bad_date))
        .transpose()?;
    let to = q
        .get("endDate")
        .map(|v| parse_query_date(v, true).ok_or_else(bad_date))
        .transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && (t < f || (t - f).num_days() > MAX_RANGE_DAYS)
    {
        return Err(ApiError::bad_request(
            "startDate's max range between start and end dates can be up to 6 months",
        ));
    }
    // Without dates ON24 lists the past three months; upcoming webinars are included so a
    // client can see what it just created.
    let from = from.or_else(|| (to.is_none()).then(|| Utc::now() - chrono::Duration::days(90)));
    let mode = DateFilterMode::parse(q.get("dateFilterMode"))
        .ok_or_else(|| ApiError::bad_request("Invalid value for the dateFilterMode parameter."))?;
    let descending = q
        .get("filterOrder")
        .is_some_and(|v| v.eq_ignore_ascii_case("desc"));
    let with_pages = q.flag("includeSubaccounts");
    let (offset, per_page) = page(&q)?;
    let store = sim.store();
    let all = store.list_events(c.client_id, mode, from, to, descending);
    let tpl = if with_pages {
        &Shapes::get().event_list_item_paged
    } else {
        &Shapes::get().event_list_item
    };
    let events: Vec<Value> = all
        .iter()
        .skip(offset * per_page)
        .take(per_page)
        .map(|e| super::render::event_analytics_view(&store, e, tpl))
        .collect();
    let mut body = json!({ "totalevents": all.len(), "events": events });
    if with_pages {
        body["pagecount"] = json!(all.len().div_ceil(per_page));
        body["currentpage"] = json!(offset);
    }
    Ok(Json(body))
}

/// `POST /client/{clientId}/event`: creates a webinar from ON24's form fields.
pub async fn create(
    State(sim): State<Arc<Sim>>,
    Extension(c): Extension<Caller>,
    f: FormFields,
) -> ApiResult<Json<Value>> {
    if !c.elite {
        return Err(ApiError::not_elite());
    }
    let now = Utc::now();
    let ev = sim.store().create_event(c.client_id, &f, now)?;
    Ok(Json(super::render::wcc_event(
        &ev,
        now,
        &Shapes::get().wcc_event,
    )))
}

/// `GET /client/{clientId}/event/{eventId}`: one event with its URLs and times.
pub async fn get(
    State(sim): State<Arc<Sim>>,
    Extension(c): Extension<Caller>,
    Path(p): Path<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    let id = event_id(&p)?;
    let store = sim.store();
    let ev = store.event(c.client_id, id)?;
    Ok(Json(super::render::event_analytics_view(
        &store,
        ev,
        &Shapes::get().event_meta,
    )))
}

/// `PUT /client/{clientId}/event/{eventId}`: changes an event's fields.
pub async fn update(
    State(sim): State<Arc<Sim>>,
    Extension(c): Extension<Caller>,
    Path(p): Path<Vec<(String, String)>>,
    f: FormFields,
) -> ApiResult<Json<Value>> {
    if !c.elite {
        return Err(ApiError::not_elite());
    }
    let id = event_id(&p)?;
    let now = Utc::now();
    let ev = sim.store().update_event(c.client_id, id, &f, now)?;
    Ok(Json(super::render::wcc_event(
        &ev,
        now,
        &Shapes::get().wcc_event_update,
    )))
}

/// `DELETE /client/{clientId}/event/{eventId}`: soft-deletes an event that has not started.
pub async fn delete(
    State(sim): State<Arc<Sim>>,
    Extension(c): Extension<Caller>,
    Path(p): Path<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    if !c.elite {
        return Err(ApiError::not_elite());
    }
    let id = event_id(&p)
        .map_err(|_| ApiError::new(404, "Event not found for this client or its children"))?;
    sim.store().delete_event(c.client_id, id)?;
    Ok(Json(json!({ "message": "Event Successfully Deleted." })))
}

/// `GET /client/{clientId}/event/{eventId}/regfield`: the event's registration fields.
pub async fn regfields(
    State(sim): State<Arc<Sim>>,
    Extension(c): Extension<Caller>,
    Path(p): Path<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    let id = event_id(&p)?;
    let store = sim.store();
    let ev = store.event(c.client_id, id)?;
    let fields: Vec<Value> = ev
        .registration_fields
        .iter()
        .map(|f| {
            let mut v = json!({
                "fieldid": f.field_id,
                "fieldcaption": f.caption,
                "fieldtype": f.field_type,
                "validationtype": f.validation_type,
                "required": if f.required { "Y" } else { "N" },
            });
            if !f.options.is_empty() {
                v["options"] = json!(f.options);
            }
            v
        })
        .collect();
    Ok(Json(json!({ "registrationfields": fields })))
}
