//! Typed Rust client for the integration service and the key service, and the webinarctl CLI.
#![forbid(unsafe_code)]
