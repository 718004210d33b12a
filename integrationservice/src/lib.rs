//! The integration service the CRM calls: ON24 credentials, webinars, registrations and metrics.
#![forbid(unsafe_code)]

pub mod api;
pub mod attendee_activity;
pub mod auth;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod ids;
pub mod invalid;
pub mod keyclient;
pub mod provider;
pub mod registrant_fields;
pub mod server;
pub mod status;
pub mod store;
pub mod telemetry;
pub mod workers;
