//! Registrant routes: REST Registration (create/upsert/soft delete), PATCH at event and client
//! level, the registrant listings and look-up by email, and forget.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::form::{FormFields, Params};
use super::render::registrant;
use super::{event_id, page, path_param};
use crate::auth::Caller;
use crate::shapes::Shapes;
use crate::sim::Sim;
use crate::state::Registrant;
use crate::state::time::parse_query_date;

type P = Path<Vec<(String, String)>>;

/// The registrant list filters: `email`, `partnerref`, and `startDate`/`endDate` on the
/// registration time (or on the last activity with `dateFilterMode=lastActivity`).
struct Filter {
    email: Option<String>,
    partnerref: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    by_activity: bool,
}

impl Filter {
    fn new(q: &Params) -> ApiResult<Self> {
        let bad = || ApiError::bad_request("Error, incorrect date formats.");
        let by_activity = match q.get("dateFilterMode") {
            None => false,
            Some(m) if m.eq_ignore_ascii_case("lastactivity") => true,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "Invalid value for the dateFilterMode parameter.",
                ));
            }
        };
        Ok(Self {
            email: q.get("email").map(str::to_string),
            partnerref: q.get("partnerref").map(str::to_string),
            from: q
                .get("startDate")
                .map(|v| parse_query_date(v, false).ok_or_else(bad))
                .transpose()?,
            to: q
                .get("endDate")
                .map(|v| parse_query_date(v, true).ok_or_else(bad))
                .transpose()?,
            by_activity,
        })
    }

    fn matches(&self, r: &Registrant) -> bool {
        let t = if self.by_activity {
            r.last_activity
        } else {
            r.created
        };
        self.email
            .as_deref()
            .is_none_or(|e| r.email.eq_ignore_ascii_case(e))
            && self
                .partnerref
                .as_deref()
                .is_none_or(|p| r.fields.get("partnerref").and_then(Option::as_deref) == Some(p))
            && self.from.is_none_or(|f| t >= f)
            && self.to.is_none_or(|to| t <= to)
    }
}

/// `POST /client/{clientId}/event/{eventId}/registrant`: registers an email to an event, updating it if already registered.
pub async fn create(
    State(sim): State<Arc<Sim>>,
    Extension(c): Extension<Caller>,
    Path(p): P,
    q: Params,
    f: FormFields,
) -> ApiResult<Json<Value>> {
    let id = event_id(&p)?;
    let honor = !q
        .get("honorrequired")
        .is_some_and(|v| v.eq_ignore_ascii_case("n"));
    let mut store = sim.store();
    let r = store.register(c.client_id, id, &f, honor, Utc::now())?;
    Ok(Json(registrant(&store, &r, &Shapes::get().registrant)))
}

/// `PATCH /client/{clientId}/event/{eventId}/registrant`: changes a registration's fields.
pub async fn patch(
    State(sim): State<Arc<Sim>>,
    Extension(c): Extension<Caller>,
    Path(p): P,
    f: FormFields,
) -> ApiResult<Json<Value>> {
    let id = event_id(&p)?;
    let mut store = sim.store();
    let r = store.patch_registrant(c.client_id, id, &f, Utc::now())?;
    Ok(Json(registrant(&store, &r, &Shapes::get().registrant)))
}

/// `GET /client/{clientId}/event/{eventId}/registrant`: the event's registrations, paged.
pub async fn list_event(
    State(sim): State<Arc<Sim>>,
    Extension(c): Extension<Caller>,
    Path(p): P,
    q: Params,
) -> ApiResult<Json<Value>> {
    let id = event_id(&p)?;
    let store = sim.store();
    store.event(c.client_id, id)?;
    let filter = Filter::new(&q)?;
    let tpl = &Shapes::get().event_registrant;
    let regs: Vec<Value> = store
        .registrants_where(
            Some(id),
            move |r| r.event_id == id && filter.matches(r),
            q.get("userstatus"),
        )
        .map(|r| registrant(&store, r, tpl))
        .collect();
    Ok(Json(
        json!({ "eventid": id, "totalregistrants": regs.len(), "registrants": regs }),
    ))
}

/// `GET /client/{clientId}/registrant`: the client's registrations across events, paged.
pub async fn list_client(
    State(sim): State<Arc<Sim>>,
    Extension(c): Extension<Caller>,
    q: Params,
) -> ApiResult<Json<Value>> {
    let (offset, per_page) = page(&q)?;
    let store = sim.store();
    let client = c.client_id;
    let filter = Filter::new(&q)?;
    let all: Vec<_> = store
        .registrants_where(
            None,
            move |r| r.client_id == client && filter.matches(r),
            q.get("userstatus"),
        )
        .collect();
    let tpl = &Shapes::get().client_registrant;
    let regs: Vec<Value> = all
        .iter()
        .skip(offset * per_page)
        .take(per_page)
        .map(|r| registrant(&store, r, tpl))
        .collect();
    Ok(Json(json!({
        "clientid": client,
        "totalregistrants": all.len(),
        "pagecount": all.len().div_ceil(per_page),
        "currentpage": offset,
        "registrants": regs,
    })))
}

/// `GET /client/{clientId}/registrant/{email}`: a person's latest registration in the client.
pub async fn by_email(
    State(sim): State<Arc<Sim>>,
    Extension(c): Extension<Caller>,
    Path(p): P,
    q: Params,
) -> ApiResult<Json<Value>> {
    let email = path_param(&p, "email").unwrap_or_default().to_string();
    let event: Option<i64> = q.get("eventid").and_then(|v| v.parse().ok());
    let store = sim.store();
    let ids = store.ids_for_email(c.client_id, &email, event);
    let latest = ids
        .iter()
        .filter_map(|id| store.registrants.get(id))
        .max_by_key(|r| (r.created, r.eventuserid));
    let Some(r) = latest else {
        return Err(ApiError::new(
            404,
            if event.is_some() {
                "No registrant was found for that email address and eventId combination"
            } else {
                "No registrant was found for that email address"
            },
        ));
    };
    Ok(Json(
        json!({ "registrant": registrant(&store, r, &Shapes::get().registrant_by_email) }),
    ))
}

/// `PATCH /client/{clientId}/registrant/{email}`: changes a person's fields in every event of the client.
pub async fn patch_client(
    State(sim): State<Arc<Sim>>,
    Extension(c): Extension<Caller>,
    Path(p): P,
    f: FormFields,
) -> ApiResult<Json<Value>> {
    let email = path_param(&p, "email").unwrap_or_default().to_string();
    let ids = sim
        .store()
        .patch_client_registrant(c.client_id, &email, &f, Utc::now())?;
    Ok(Json(json!({ "updatedregistrants": ids })))
}

/// `POST /client/{clientId}/forget`: forgets the given emails in the client's events (GDPR).
pub async fn forget(
    State(sim): State<Arc<Sim>>,
    Extension(c): Extension<Caller>,
    f: FormFields,
) -> ApiResult<Json<Value>> {
    let emails = f
        .get("email")
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("The email parameter is missing."))?;
    let event = match f.get("eventid") {
        Some(v) => Some(
            v.trim()
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request("Invalid value for the eventid parameter."))?,
        ),
        None => None,
    };
    let ids = sim.store().forget(c.client_id, emails, event, Utc::now())?;
    Ok(Json(
        json!({ "deletedregistrants": { "eventuserids": ids } }),
    ))
}

/// `POST /client/{clientId}/event/{eventId}/forgetall`: forgets every registrant of one event.
pub async fn forget_all(
    State(sim): State<Arc<Sim>>,
    Extension(c): Extension<Caller>,
    Path(p): P,
) -> ApiResult<Json<Value>> {
    let id = event_id(&p)?;
    let ids = sim.store().forget_all(c.client_id, id, Utc::now())?;
    Ok(Json(
        json!({ "deletedregistrants": { "eventuserids": ids } }),
    ))
}
