//! The machine-readable description of a running local stack, `.state/stack.json`, written by
//! `cargo xtask up` once every service answers. This module owns its schema on the reading side
//! (the writer is `xtask/src/up.rs`); both are documented in `docs/client.md`.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::ClientError;

/// The whole `stack.json` (schema version 1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StackFile {
    /// Schema version, 1.
    pub version: u32,
    /// Process id of the `xtask up` that owns the stack.
    pub pid: u32,
    /// The state folder (absolute).
    pub state_dir: PathBuf,
    /// PEM file of the development CA that signed every server and client certificate.
    pub ca_cert: PathBuf,
    /// The key service.
    pub keyservice: ServiceEndpoints,
    /// The integration service.
    pub integrationservice: ServiceEndpoints,
    /// The ON24 simulator.
    pub on24sim: SimulatorEndpoints,
    /// Client identities by short name (`admin`, `crm-demo`, `integrationservice`).
    pub identities: BTreeMap<String, Identity>,
    /// The demo tenant and its ON24 account in the simulator.
    pub demo: Demo,
}

/// Where one gRPC service listens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceEndpoints {
    /// The TLS gRPC endpoint, e.g. `https://127.0.0.1:8443`.
    pub endpoint: String,
    /// The plaintext `grpc.health.v1` address, e.g. `http://127.0.0.1:8080`.
    pub health: String,
    /// The name the server certificate is valid for (`localhost`).
    pub server_name: String,
}

/// Where the ON24 simulator listens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimulatorEndpoints {
    /// The ON24 REST API base URL to put in tenant credentials (`.../v2`).
    pub base_url: String,
    /// The simulator's control API (`.../_sim`).
    pub control_url: String,
}

/// One client certificate and its key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    /// The SPIFFE URI SAN of the certificate.
    pub uri: String,
    /// PEM certificate.
    pub cert: PathBuf,
    /// PEM private key (mode 0600).
    pub key: PathBuf,
}

/// The demo tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Demo {
    /// Tenant id, `demo`.
    pub tenant: String,
    /// Identity short name allowed to act for the tenant.
    pub identity: String,
    /// The ON24 account created in the simulator for the tenant.
    pub on24: DemoOn24,
}

/// Development-only ON24 credentials of the simulator account. They open nothing but the
/// local simulator, which is why they may sit in a file.
#[derive(Clone, Serialize, Deserialize)]
pub struct DemoOn24 {
    /// ON24 client id.
    pub client_id: String,
    /// Access token key.
    pub access_token_key: String,
    /// Access token secret.
    pub access_token_secret: String,
    /// API base URL (the simulator).
    pub base_url: String,
}

impl std::fmt::Debug for DemoOn24 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoOn24")
            .field("client_id", &self.client_id)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl StackFile {
    /// Reads and parses a `stack.json`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ClientError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ClientError::Config(format!(
                "cannot read {} ({e}); start the local stack with `cargo xtask up` or pass --endpoint",
                path.display()
            ))
        })?;
        serde_json::from_str(&text).map_err(|e| {
            ClientError::Config(format!("{} is not a valid stack.json: {e}", path.display()))
        })
    }

    /// The identity called `name`, or an error listing the known ones.
    pub fn identity(&self, name: &str) -> Result<&Identity, ClientError> {
        self.identities.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.identities.keys().map(String::as_str).collect();
            ClientError::Config(format!(
                "no identity `{name}` in stack.json; known: {}",
                known.join(", ")
            ))
        })
    }
}
