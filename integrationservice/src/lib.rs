//! The integration service the CRM calls: ON24 credentials, webinars, registrations and metrics.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod config;
pub mod crypto;
pub mod domain;
#[doc(hidden)]
pub mod fuzzing;
pub mod keyclient;
pub mod provider;
pub mod registrant_fields;
pub mod server;
pub mod status;
pub mod store;
pub mod telemetry;
pub mod workers;
