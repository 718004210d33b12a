//! ON24's authentication: the `accessTokenKey` + `accessTokenSecret` header pair, deactivated
//! tokens, inactive clients, and client-id scoping (a token only sees its own client).

use std::collections::HashMap;

use http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::api::error::ApiError;
use crate::config::{AccountConfig, AccountView};

/// The account a request was authenticated as.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// The ON24 client the token belongs to.
    pub client_id: i64,
    /// Whether the account may make Elite-only calls.
    pub elite: bool,
}

struct Token {
    client_id: i64,
    secret: SecretString,
    deactivated: bool,
}

#[derive(Debug, Clone, Copy)]
struct Client {
    elite: bool,
    active: bool,
}

/// All accounts known to the simulator, keyed by token key.
#[derive(Default)]
pub struct Accounts {
    tokens: HashMap<String, Token>,
    clients: HashMap<i64, Client>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("tokens", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

impl Accounts {
    /// The accounts of the configuration, indexed by token key.
    pub fn new(list: &[AccountConfig]) -> Self {
        let mut a = Self::default();
        for acc in list {
            a.add(acc.clone());
        }
        a
    }

    /// Adds or replaces a token and (re)sets its client's tier and activity.
    pub fn add(&mut self, acc: AccountConfig) {
        self.clients.insert(
            acc.client_id,
            Client {
                elite: acc.elite,
                active: acc.active,
            },
        );
        self.tokens.insert(
            acc.token_key,
            Token {
                client_id: acc.client_id,
                secret: acc.token_secret,
                deactivated: false,
            },
        );
    }

    /// Marks a token deactivated (as ON24 does after 60 days unused). Returns false if unknown.
    pub fn deactivate_token(&mut self, token_key: &str) -> bool {
        match self.tokens.get_mut(token_key) {
            Some(t) => {
                t.deactivated = true;
                true
            }
            None => false,
        }
    }

    /// Activates or deactivates every token of a client; false if the client is unknown.
    pub fn set_client_active(&mut self, client_id: i64, active: bool) -> bool {
        match self.clients.get_mut(&client_id) {
            Some(c) => {
                c.active = active;
                true
            }
            None => false,
        }
    }

    /// Every account, without secrets, for the control API.
    pub fn list(&self) -> Vec<AccountView> {
        let mut v: Vec<AccountView> = self
            .tokens
            .iter()
            .map(|(key, t)| {
                let c = self.clients.get(&t.client_id).copied().unwrap_or(Client {
                    elite: true,
                    active: true,
                });
                AccountView {
                    client_id: t.client_id,
                    token_key: key.clone(),
                    elite: c.elite,
                    active: c.active,
                }
            })
            .collect();
        v.sort_by(|a, b| (a.client_id, &a.token_key).cmp(&(b.client_id, &b.token_key)));
        v
    }

    /// Checks the two headers against the account list and the `{clientId}` of the path.
    pub fn authenticate(&self, headers: &HeaderMap, path_client: i64) -> Result<Caller, ApiError> {
        // HeaderMap lookups are case-insensitive, as HTTP requires.
        let key = headers.get("accesstokenkey").and_then(|v| v.to_str().ok());
        let secret = headers
            .get("accesstokensecret")
            .and_then(|v| v.to_str().ok());
        let (Some(key), Some(secret)) = (key, secret) else {
            return Err(ApiError::unauthorized());
        };
        let Some(token) = self.tokens.get(key) else {
            return Err(ApiError::unauthorized());
        };
        // Constant-time comparison so response timing says nothing about the secret.
        let matches: bool = token
            .secret
            .expose_secret()
            .as_bytes()
            .ct_eq(secret.as_bytes())
            .into();
        if !matches {
            return Err(ApiError::unauthorized());
        }
        if token.deactivated {
            return Err(ApiError::new(
                401,
                "AccessTokenKey and AccessTokenSecret are deactivated.",
            ));
        }
        if token.client_id != path_client {
            return Err(ApiError::new(
                403,
                "You do not have permission to perform the requested operation.",
            ));
        }
        let client = self
            .clients
            .get(&token.client_id)
            .copied()
            .unwrap_or(Client {
                elite: true,
                active: true,
            });
        if !client.active {
            return Err(ApiError::new(
                403,
                format!("The client id {path_client} is inactive."),
            ));
        }
        Ok(Caller {
            client_id: token.client_id,
            elite: client.elite,
        })
    }
}
