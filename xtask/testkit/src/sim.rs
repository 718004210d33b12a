//! The ON24 simulator in-process on `127.0.0.1:0`, with one account tests log in with.

pub use on24sim::{SimConfig, SimHandle, Simulator};

/// An ON24 account the simulator accepts.
#[derive(Clone, Copy, Debug)]
pub struct Account {
    /// ON24's client id.
    pub client_id: i64,
    /// The access token key.
    pub token_key: &'static str,
    /// The access token secret.
    pub token_secret: &'static str,
}

impl Account {
    /// The account most tests use.
    pub const TEST: Account = Account {
        client_id: 22334,
        token_key: "sim-token-key-0001",
        token_secret: "sim-token-secret-0001",
    };

    /// The simulator's configuration with only this account.
    pub fn config(&self) -> SimConfig {
        SimConfig::with_account(self.client_id, self.token_key, self.token_secret)
    }
}

/// Starts a simulator that knows `account`.
pub async fn start(account: Account) -> SimHandle {
    Simulator::start(account.config())
        .await
        .expect("the ON24 simulator starts")
}
