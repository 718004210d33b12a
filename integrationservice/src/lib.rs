//! The integration service the CRM calls: ON24 credentials, webinars, registrations and metrics.
#![forbid(unsafe_code)]

pub mod store;
pub mod on24;
pub mod crypto;
pub mod keyclient;
pub mod provider;
pub mod domain;
pub mod workers;
pub mod api;
pub mod auth;
pub mod config;
pub mod server;
