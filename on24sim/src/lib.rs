//! A faithful simulator of ON24's REST API v2, for tests, benchmarks and the local demo.
//!
//! Start one in-process with [`Simulator::start`]; drive it with [`control::ControlClient`].
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod api;
pub mod auth;
pub mod config;
pub mod control;
pub mod faults;
pub mod inflight;
pub mod journal;
pub mod quota;
pub mod server;
pub mod shapes;
pub mod sim;
pub mod state;

pub use config::{AccountConfig, SimConfig};
pub use control::client::ControlClient;
pub use faults::FaultConfig;
pub use journal::JournalEntry;
pub use quota::{QUOTA_MESSAGE, QuotaConfig};
pub use server::{SimHandle, Simulator, run};
pub use state::regfields::RegField;
pub use state::seed::{SeedAttendees, SeedResult};
pub use state::viewing::{InteractionItem, Interactions, ViewingRequest};
