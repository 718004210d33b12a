//! The control API under `/_sim` (outside ON24's paths, never faulted, never journaled): health,
//! faults, quota, accounts and tokens, registrations through ON24's own channels, simulated viewing (one attendee, or many seeded at once
//! for benchmarks), the request journal, and the calls in flight per client. Tests use it
//! through [`client::ControlClient`].

pub mod client;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::AccountConfig;
use crate::faults::FaultConfig;
use crate::quota::QuotaUpdate;
use crate::sim::Sim;
use crate::state::seed::SeedAttendees;
use crate::state::viewing::{ViewingRecorded, ViewingRequest};

/// Body of `POST /_sim/events/{eventId}/registrants`: a person registering through ON24's own
/// channels (its registration page, a partner link, an ON24 email), so never through the REST
/// API and never in the journal.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OwnChannelRegistration {
    /// Registration form fields by ON24's form name (`email`, `firstName`, `city`, ...);
    /// `email` is required.
    pub fields: Vec<(String, String)>,
}

/// Body of `POST /_sim/tokens/deactivate`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeactivateToken {
    /// The token key to refuse from now on.
    pub token_key: String,
}

/// Body of `POST /_sim/clients/{clientId}/active`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientActive {
    /// True to accept the client's tokens again, false to refuse them.
    pub active: bool,
}

fn control_error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({ "error": msg.into() }))).into_response()
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn get_faults(State(sim): State<Arc<Sim>>) -> Json<FaultConfig> {
    Json(sim.faults.config())
}

async fn put_faults(State(sim): State<Arc<Sim>>, Json(cfg): Json<FaultConfig>) -> Response {
    if let Err(e) = cfg.validate() {
        return control_error(StatusCode::BAD_REQUEST, e);
    }
    sim.faults.set(cfg.clone());
    Json(cfg).into_response()
}

async fn put_quota(State(sim): State<Arc<Sim>>, Json(u): Json<QuotaUpdate>) -> StatusCode {
    crate::faults::lock(&sim.quota).update(u);
    StatusCode::NO_CONTENT
}

async fn list_accounts(State(sim): State<Arc<Sim>>) -> Response {
    Json(sim.accounts().list()).into_response()
}

async fn add_account(State(sim): State<Arc<Sim>>, Json(acc): Json<AccountConfig>) -> StatusCode {
    sim.accounts_mut().add(acc);
    StatusCode::NO_CONTENT
}

async fn deactivate(State(sim): State<Arc<Sim>>, Json(d): Json<DeactivateToken>) -> Response {
    if sim.accounts_mut().deactivate_token(&d.token_key) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        control_error(StatusCode::NOT_FOUND, "unknown token key")
    }
}

async fn client_active(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
    Json(a): Json<ClientActive>,
) -> Response {
    if sim.accounts_mut().set_client_active(id, a.active) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        control_error(StatusCode::NOT_FOUND, "unknown client id")
    }
}

async fn viewing(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
    Json(v): Json<ViewingRequest>,
) -> Response {
    match sim.store().add_viewing(id, &v) {
        Ok(eventuserid) => Json(ViewingRecorded { eventuserid }).into_response(),
        Err(e) => control_error(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            e.message,
        ),
    }
}

async fn own_channel_registration(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
    Json(req): Json<OwnChannelRegistration>,
) -> Response {
    let mut store = sim.store();
    let Some(client_id) = store.events.get(&id).map(|e| e.client_id) else {
        return control_error(StatusCode::NOT_FOUND, "unknown event");
    };
    let form = crate::api::form::FormFields(req.fields);
    match store.register(client_id, id, &form, true, chrono::Utc::now()) {
        Ok(r) => Json(ViewingRecorded {
            eventuserid: r.eventuserid,
        })
        .into_response(),
        Err(e) => control_error(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            e.message,
        ),
    }
}

async fn put_regfields(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
    Json(fields): Json<Vec<crate::state::regfields::RegField>>,
) -> Response {
    match sim.store().set_registration_fields(id, fields) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => control_error(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            e.message,
        ),
    }
}

async fn seed_attendees(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<i64>,
    Json(req): Json<SeedAttendees>,
) -> Response {
    match sim.store().seed_attendees(id, &req) {
        Ok(done) => Json(done).into_response(),
        Err(e) => control_error(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            e.message,
        ),
    }
}

async fn journal(State(sim): State<Arc<Sim>>) -> Response {
    Json(sim.journal.entries()).into_response()
}

async fn clear_journal(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.journal.clear();
    StatusCode::NO_CONTENT
}

async fn inflight(State(sim): State<Arc<Sim>>) -> Response {
    Json(sim.inflight.snapshot()).into_response()
}

async fn reset_inflight(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.inflight.reset();
    StatusCode::NO_CONTENT
}

/// The `/_sim` control API: faults, quota, accounts, journal, seeding and viewing.
pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/_sim/health", get(health))
        .route("/_sim/faults", get(get_faults).put(put_faults))
        .route("/_sim/quota", put(put_quota))
        .route("/_sim/accounts", get(list_accounts).post(add_account))
        .route("/_sim/tokens/deactivate", post(deactivate))
        .route("/_sim/clients/{clientId}/active", post(client_active))
        .route("/_sim/events/{eventId}/viewing", post(viewing))
        .route("/_sim/events/{eventId}/attendees", post(seed_attendees))
        .route("/_sim/events/{eventId}/regfields", put(put_regfields))
        .route(
            "/_sim/events/{eventId}/registrants",
            post(own_channel_registration),
        )
        .route("/_sim/journal", get(journal).delete(clear_journal))
        .route("/_sim/inflight", get(inflight).delete(reset_inflight))
        .with_state(sim)
}
