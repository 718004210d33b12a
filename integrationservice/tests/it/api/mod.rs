//! The CRM-facing gRPC API over real TLS: authentication, validation, and a tenant's life
//! through the public API only, erasure and suppression.

mod access_audit;
mod auth;
mod concurrent_registrations;
mod deadline;
mod egress;
pub(crate) mod erasure;
mod fairness;
pub mod harness;
pub(crate) mod lifecycle;
mod on24_fidelity;
mod person_data;
mod promises;
mod question_kinds;
mod questions;
mod retention;
mod suppression;
mod transport;
mod validation;
