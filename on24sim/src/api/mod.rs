//! ON24's REST API v2 as served by the simulator: the routes, mounted under both `/v2` and
//! `/wcc/api/v2`, behind the gate (faults, auth, quota, journal).

pub mod analytics;
pub mod error;
pub mod events;
pub mod form;
pub mod gate;
pub mod registrants;
pub mod render;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use error::{ApiError, ApiResult};
use form::Params;

use crate::sim::Sim;

/// ON24's page size limit and default.
const MAX_PER_PAGE: u64 = 100;

/// The `{eventId}` path parameter; a non-number is an event that does not exist.
pub(crate) fn event_id(p: &[(String, String)]) -> ApiResult<i64> {
    let raw = path_param(p, "eventId").unwrap_or_default();
    raw.parse()
        .map_err(|_| ApiError::new(404, format!("The event {raw} doesn't exist.")))
}

pub(crate) fn path_param<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `(pageoffset, itemsperpage)`: zero-based page, 1..=100 items (default 100).
pub(crate) fn page(q: &Params) -> ApiResult<(usize, usize)> {
    let offset = q.uint("pageOffset", 0)?;
    let per = q.uint("itemsPerPage", MAX_PER_PAGE)?;
    if per == 0 || per > MAX_PER_PAGE {
        return Err(ApiError::bad_request(
            "Invalid value for the itemsPerPage parameter.",
        ));
    }
    Ok((
        usize::try_from(offset).unwrap_or(usize::MAX / 2),
        per as usize,
    ))
}

async fn not_found() -> ApiError {
    ApiError::new(404, "Not Found")
}

/// The ON24 routes without prefix.
fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route(
            "/client/{clientId}/event",
            get(events::list).post(events::create),
        )
        .route(
            "/client/{clientId}/event/{eventId}",
            get(events::get).put(events::update).delete(events::delete),
        )
        .route(
            "/client/{clientId}/event/{eventId}/registrant",
            get(registrants::list_event)
                .post(registrants::create)
                .patch(registrants::patch),
        )
        .route(
            "/client/{clientId}/event/{eventId}/regfield",
            get(events::regfields),
        )
        .route(
            "/client/{clientId}/event/{eventId}/forgetall",
            post(registrants::forget_all),
        )
        .route(
            "/client/{clientId}/event/{eventId}/attendee",
            get(analytics::attendees),
        )
        .route(
            "/client/{clientId}/event/{eventId}/attendeesession",
            get(analytics::sessions),
        )
        .route(
            "/client/{clientId}/registrant",
            get(registrants::list_client),
        )
        .route(
            "/client/{clientId}/registrant/{email}",
            get(registrants::by_email).patch(registrants::patch_client),
        )
        .route("/client/{clientId}/forget", post(registrants::forget))
        .fallback(not_found)
}

/// `/v2/...` and `/wcc/api/v2/...`, gated.
pub fn router(sim: Arc<Sim>) -> Router {
    let api = routes();
    Router::new()
        .nest(gate::PREFIXES[1], api.clone())
        .nest(gate::PREFIXES[0], api)
        .layer(axum::middleware::from_fn_with_state(
            sim.clone(),
            gate::gate,
        ))
        .with_state(sim)
}
