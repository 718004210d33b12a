//! Start-up configuration of the simulator: accounts, quota and fault settings, and how they are
//! read from a TOML or JSON file. Everything here can also be changed at run time through the
//! control API; this is only the initial state.

use std::path::Path;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::faults::FaultConfig;
use crate::quota::QuotaConfig;

/// One ON24 account: a client id and one access token pair for it.
#[derive(Clone, Deserialize)]
pub struct AccountConfig {
    /// ON24's numeric client id (the `{clientId}` in every path).
    pub client_id: i64,
    /// Value of the `accessTokenKey` header.
    pub token_key: String,
    /// Value of the `accessTokenSecret` header. Kept in a `SecretString` so it never reaches
    /// `Debug` output or logs.
    pub token_secret: SecretString,
    /// "Elite" tier accounts may use the Event Management operations; others get
    /// 403 "The client id is not an Elite user".
    #[serde(default = "yes")]
    pub elite: bool,
    /// An inactive client gets 403 "The client id {clientId} is inactive." on every call.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl AccountConfig {
    /// An active Elite account.
    pub fn new(
        client_id: i64,
        token_key: impl Into<String>,
        token_secret: impl Into<String>,
    ) -> Self {
        Self {
            client_id,
            token_key: token_key.into(),
            token_secret: SecretString::from(token_secret.into()),
            elite: true,
            active: true,
        }
    }
}

impl std::fmt::Debug for AccountConfig {
    // Hand-written so the secret can never be printed, whatever secrecy's Debug does.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountConfig")
            .field("client_id", &self.client_id)
            .field("token_key", &crate::journal::mask_key(&self.token_key))
            .field("elite", &self.elite)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// Everything the simulator starts with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    #[serde(default)]
    /// The ON24 accounts (tokens) the simulator accepts.
    pub accounts: Vec<AccountConfig>,
    #[serde(default)]
    /// The default call budget per client.
    pub quota: QuotaConfig,
    #[serde(default)]
    /// The faults injected from the start.
    pub faults: FaultConfig,
    /// Where to keep JSON snapshots of the world (events, registrants, viewing); read at start
    /// if present, written every few seconds and at shutdown. `None`: memory only.
    #[serde(default)]
    pub state_file: Option<std::path::PathBuf>,
    /// Journal capacity: older entries are dropped first so a long benchmark cannot grow memory.
    #[serde(default = "default_journal_capacity")]
    pub journal_capacity: usize,
}

fn default_journal_capacity() -> usize {
    10_000
}

impl SimConfig {
    /// A configuration with one account and everything else default (no quota, no faults).
    pub fn with_account(client_id: i64, token_key: &str, token_secret: &str) -> Self {
        Self {
            accounts: vec![AccountConfig::new(client_id, token_key, token_secret)],
            journal_capacity: default_journal_capacity(),
            ..Self::default()
        }
    }

    /// Reads a `.json` file as JSON and anything else as TOML.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(e.to_string()))?;
        let mut cfg: Self = if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            serde_json::from_str(&text).map_err(|e| ConfigError::Parse(e.to_string()))?
        } else {
            // `message()` leaves out the quoted source line, which could be a token secret.
            toml::from_str(&text)
                .map_err(|e: toml::de::Error| ConfigError::Parse(e.message().to_string()))?
        };
        if cfg.journal_capacity == 0 {
            cfg.journal_capacity = default_journal_capacity();
        }
        Ok(cfg)
    }
}

/// Why a configuration file could not be used. Messages never contain file contents, which may
/// hold token secrets.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file: {0}")]
    /// The file could not be read.
    Read(String),
    #[error("invalid config file: {0}")]
    /// The file is not valid TOML for this configuration.
    Parse(String),
}

/// What the control API returns about an account (never the secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountView {
    /// The ON24 client id.
    pub client_id: i64,
    /// The access token key (its secret is never returned).
    pub token_key: String,
    /// Whether Elite-only calls are allowed.
    pub elite: bool,
    /// Whether the account's tokens are accepted.
    pub active: bool,
}
