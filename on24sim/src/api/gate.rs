//! What every ON24 call goes through before its handler, in ON24's order as seen from a client:
//! network faults (latency, reset, hang, 5xx), then authentication and client scoping, then the
//! quota; and afterwards the journal entry (and, for a lost-answer fault, the silence). Every
//! call is counted in flight for its path's client id from arrival to answer.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;

use super::error::ApiError;
use crate::faults::Fault;
use crate::journal::{FormSlot, JournalEntry, mask_key, mask_pairs};
use crate::quota::QUOTA_MESSAGE;
use crate::sim::Sim;

/// Cancelling it resets the TCP connection the request came on (set by the server per
/// connection).
#[derive(Debug, Clone)]
pub struct ConnKill(pub CancellationToken);

/// The two prefixes ON24's API lives under.
pub const PREFIXES: [&str; 2] = ["/wcc/api/v2", "/v2"];

/// `{clientId}` from `/v2/client/{clientId}/...`.
fn path_client(path: &str) -> Option<&str> {
    let rest = PREFIXES.iter().find_map(|p| path.strip_prefix(p))?;
    let mut seg = rest.trim_start_matches('/').split('/');
    (seg.next()? == "client").then_some(())?;
    seg.next().filter(|s| !s.is_empty())
}

/// Middleware in front of every ON24 route: authenticates, applies quota and faults, and journals the call.
pub async fn gate(State(sim): State<Arc<Sim>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(req.uri().query().unwrap_or("")).unwrap_or_default();
    let headers = req.headers();
    let mut entry = JournalEntry {
        seq: 0,
        timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        method: req.method().to_string(),
        path: path.clone(),
        query: mask_pairs(&query),
        form: Vec::new(),
        token_key: headers
            .get("accesstokenkey")
            .and_then(|v| v.to_str().ok())
            .map(mask_key),
        token_secret_present: headers.contains_key("accesstokensecret"),
        status: 0,
        fault: None,
    };
    let slot = FormSlot::default();
    req.extensions_mut().insert(slot.clone());
    let _inflight = path_client(&path).map(|c| sim.inflight.enter(c));

    let decision = sim.faults.decide(req.method().as_str(), &path);
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    match decision.fault {
        Fault::Pass | Fault::LoseAnswer(_) => {}
        Fault::Error(status) => {
            entry.status = status;
            entry.fault = Some("error".into());
            sim.journal.push(entry);
            let message = sim.faults.config().error_message;
            return ApiError::new(
                status,
                message.unwrap_or_else(|| "Internal Server Error".into()),
            )
            .into_response();
        }
        Fault::Reset | Fault::Hang(_) => {
            let kill = req.extensions().get::<ConnKill>().cloned();
            let is_reset = decision.fault == Fault::Reset;
            entry.fault = Some(if is_reset { "reset" } else { "hang" }.into());
            sim.journal.push(entry);
            if let Fault::Hang(limit) = decision.fault {
                match limit {
                    Some(d) => {
                        tokio::select! { _ = tokio::time::sleep(d) => {}, _ = sim.shutdown.cancelled() => {} }
                    }
                    None => sim.shutdown.cancelled().await,
                }
            }
            if let Some(k) = kill {
                k.0.cancel();
            }
            // The connection is being torn down; this answer is never written.
            sim.shutdown.cancelled().await;
            return ApiError::new(503, "Service Unavailable").into_response();
        }
    }

    let kill = req.extensions().get::<ConnKill>().cloned();
    let admitted = (|| {
        let client = path_client(&path).ok_or_else(|| ApiError::new(404, "Not Found"))?;
        let client_id: i64 = client
            .parse()
            .map_err(|_| ApiError::new(404, format!("The client {client} doesn't exist.")))?;
        let caller = sim.accounts().authenticate(req.headers(), client_id)?;
        if !crate::faults::lock(&sim.quota).take(caller.client_id) {
            return Err(ApiError::new(403, QUOTA_MESSAGE));
        }
        Ok(caller)
    })();
    let response = match admitted {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    };
    entry.status = response.status().as_u16();
    entry.form = slot.take();
    if let Fault::LoseAnswer(limit) = decision.fault {
        // The work is done (and journaled with the status it would have had); the caller never
        // hears of it: silence, then the connection is reset.
        entry.fault = Some("lost".into());
        sim.journal.push(entry);
        match limit {
            Some(d) => {
                tokio::select! { _ = tokio::time::sleep(d) => {}, _ = sim.shutdown.cancelled() => {} }
            }
            None => sim.shutdown.cancelled().await,
        }
        if let Some(k) = kill {
            k.0.cancel();
        }
        sim.shutdown.cancelled().await;
        return response;
    }
    sim.journal.push(entry);
    response
}
