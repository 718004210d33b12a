//! ON24 REST API v2 client (the production one): typed operations over reqwest + rustls,
//! errors classified for retries and metrics, requests buildable without I/O for the
//! contract tests. See `docs/on24-client.md`.
//!
//! Module map: `config` (credentials, region/base URL, timeouts), `request` (operations →
//! transport-free requests), `forms` (request bodies), `types` + `people` + `de` (lenient responses),
//! `client` (HTTP), `operations` (typed calls), `pagination` (reading lists to the end), `error` (classification).

pub mod client;
pub mod config;
mod de;
pub mod error;
pub mod forms;
mod operations;
pub mod pagination;
pub mod people;
pub mod request;
pub mod types;

pub use client::On24Client;
pub use config::{BaseUrl, On24ClientConfig, On24Credentials, Region};
pub use error::{On24Error, PermanentKind, RetryableKind};
pub use forms::{EventUpdate, NewEvent, RegistrantForm, RegistrantUpdate};
pub use request::{DateFilterMode, DateRange, Operation, PageRequest, RequestSpec};
pub use types::*;
