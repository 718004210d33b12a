//! The key service: wraps and unwraps data keys under key-encryption keys it never lets out.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod api;
pub mod audit;
pub mod authz;
pub mod config;
pub mod crypto;
pub mod domain;
#[doc(hidden)]
pub mod fuzzing;
pub mod hardening;
pub mod rootkey;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod tls;
