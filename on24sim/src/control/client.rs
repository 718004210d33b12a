//! A typed client for the control API, for tests in this and other crates: set faults and quota,
//! add accounts, deactivate tokens, book viewing, read and clear the journal, read the calls in
//! flight per client.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::{ClientActive, DeactivateToken, OwnChannelRegistration};
use crate::config::AccountView;
use crate::faults::FaultConfig;
use crate::inflight::InFlightCount;
use crate::journal::JournalEntry;
use crate::quota::{QuotaConfig, QuotaUpdate};
use crate::state::seed::{SeedAttendees, SeedResult};
use crate::state::viewing::{ViewingRecorded, ViewingRequest};

/// Why a control call failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control API unreachable: {0}")]
    /// The control API could not be reached.
    Http(String),
    #[error("control API answered {status}: {body}")]
    /// The control API answered with an error.
    Status {
        /// HTTP status.
        status: u16,
        /// The answer's body.
        body: String,
    },
}

/// Talks to `http://HOST:PORT/_sim`.
#[derive(Debug, Clone)]
pub struct ControlClient {
    http: reqwest::Client,
    base: String,
}

impl ControlClient {
    /// `control_url` is [`crate::SimHandle::control_url`], e.g. `http://127.0.0.1:9080/_sim`.
    pub fn new(control_url: impl Into<String>) -> Self {
        // reqwest is built without a default crypto provider (ring only, workspace rule).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            http,
            base: control_url.into().trim_end_matches('/').to_string(),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ControlError> {
        let res = req
            .send()
            .await
            .map_err(|e| ControlError::Http(e.to_string()))?;
        if res.status().is_success() {
            Ok(res)
        } else {
            let status = res.status().as_u16();
            Err(ControlError::Status {
                status,
                body: res.text().await.unwrap_or_default(),
            })
        }
    }

    async fn json<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ControlError> {
        self.send(req)
            .await?
            .json()
            .await
            .map_err(|e| ControlError::Http(e.to_string()))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post<B: Serialize>(&self, path: &str, body: &B) -> Result<(), ControlError> {
        self.send(self.http.post(self.url(path)).json(body))
            .await
            .map(drop)
    }

    /// Ok when the simulator answers its health check.
    pub async fn health(&self) -> Result<(), ControlError> {
        self.send(self.http.get(self.url("/health")))
            .await
            .map(drop)
    }

    /// The faults in force.
    pub async fn faults(&self) -> Result<FaultConfig, ControlError> {
        self.json(self.http.get(self.url("/faults"))).await
    }

    /// Replaces the faults in force.
    pub async fn set_faults(&self, cfg: &FaultConfig) -> Result<(), ControlError> {
        self.send(self.http.put(self.url("/faults")).json(cfg))
            .await
            .map(drop)
    }

    /// Back to no latency and no faults.
    pub async fn clear_faults(&self) -> Result<(), ControlError> {
        self.set_faults(&FaultConfig::default()).await
    }

    /// `calls` per `window` for one client (`Some`) or as the default (`None`);
    /// `calls = None` is unlimited. Starts a fresh window.
    pub async fn set_quota(
        &self,
        client_id: Option<i64>,
        calls: Option<u64>,
        window: Duration,
    ) -> Result<(), ControlError> {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let u = QuotaUpdate {
            client_id,
            quota: QuotaConfig { calls, window_ms },
        };
        self.send(self.http.put(self.url("/quota")).json(&u))
            .await
            .map(drop)
    }

    /// Adds (or replaces) an ON24 account the simulator accepts.
    pub async fn add_account(
        &self,
        client_id: i64,
        token_key: &str,
        token_secret: &str,
        elite: bool,
    ) -> Result<(), ControlError> {
        let body = json!({
            "client_id": client_id, "token_key": token_key, "token_secret": token_secret,
            "elite": elite, "active": true,
        });
        self.post("/accounts", &body).await
    }

    /// Every account, without secrets.
    pub async fn accounts(&self) -> Result<Vec<AccountView>, ControlError> {
        self.json(self.http.get(self.url("/accounts"))).await
    }

    /// Refuses a token key from now on, as ON24 does for a revoked token.
    pub async fn deactivate_token(&self, token_key: &str) -> Result<(), ControlError> {
        self.post(
            "/tokens/deactivate",
            &DeactivateToken {
                token_key: token_key.into(),
            },
        )
        .await
    }

    /// Activates or deactivates a client's tokens.
    pub async fn set_client_active(
        &self,
        client_id: i64,
        active: bool,
    ) -> Result<(), ControlError> {
        self.post(
            &format!("/clients/{client_id}/active"),
            &ClientActive { active },
        )
        .await
    }

    /// Books viewing for a registered email; returns its `eventuserid`.
    pub async fn add_viewing(
        &self,
        event_id: i64,
        v: &ViewingRequest,
    ) -> Result<i64, ControlError> {
        let r: ViewingRecorded = self
            .json(
                self.http
                    .post(self.url(&format!("/events/{event_id}/viewing")))
                    .json(v),
            )
            .await?;
        Ok(r.eventuserid)
    }

    /// Replaces an event's registration fields (its custom questions among them).
    pub async fn set_registration_fields(
        &self,
        event_id: i64,
        fields: &[crate::state::regfields::RegField],
    ) -> Result<(), ControlError> {
        self.send(
            self.http
                .put(self.url(&format!("/events/{event_id}/regfields")))
                .json(fields),
        )
        .await
        .map(|_| ())
    }

    /// Registers a person the way ON24's own registration page does (not through the REST
    /// API, so the journal shows no call); `fields` are form fields by ON24's name, `email`
    /// among them. Returns the `eventuserid`.
    pub async fn register_at_on24(
        &self,
        event_id: i64,
        fields: &[(&str, &str)],
    ) -> Result<i64, ControlError> {
        let body = OwnChannelRegistration {
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        let r: ViewingRecorded = self
            .json(
                self.http
                    .post(self.url(&format!("/events/{event_id}/registrants")))
                    .json(&body),
            )
            .await?;
        Ok(r.eventuserid)
    }

    /// Registers many people to an event at once, each with the same viewing (benchmarks).
    pub async fn seed_attendees(
        &self,
        event_id: i64,
        req: &SeedAttendees,
    ) -> Result<SeedResult, ControlError> {
        self.json(
            self.http
                .post(self.url(&format!("/events/{event_id}/attendees")))
                .json(req),
        )
        .await
    }

    /// Every ON24 call journalled since start or the last clear.
    pub async fn journal(&self) -> Result<Vec<JournalEntry>, ControlError> {
        self.json(self.http.get(self.url("/journal"))).await
    }

    /// Empties the journal.
    pub async fn clear_journal(&self) -> Result<(), ControlError> {
        self.send(self.http.delete(self.url("/journal")))
            .await
            .map(drop)
    }

    /// Calls in flight for `client_id` now and at most since the last reset.
    pub async fn inflight(&self, client_id: i64) -> Result<InFlightCount, ControlError> {
        let all: std::collections::BTreeMap<String, InFlightCount> =
            self.json(self.http.get(self.url("/inflight"))).await?;
        Ok(all.get(&client_id.to_string()).copied().unwrap_or_default())
    }

    /// Starts the in-flight maxima again from the current counts.
    pub async fn reset_inflight(&self) -> Result<(), ControlError> {
        self.send(self.http.delete(self.url("/inflight")))
            .await
            .map(drop)
    }
}
