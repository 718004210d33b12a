//! The integration service the CRM calls: ON24 credentials, webinars, registrations and metrics.
#![forbid(unsafe_code)]
pub mod on24;
