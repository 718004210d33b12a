//! The gRPC edge: thin handlers for `KeyService` and `KeyAdminService`. Each handler
//! identifies the caller, applies the rate limit, validates, authorizes (deny by default),
//! calls [`KeyManager`], writes the audit record and only then answers. If the audit record
//! cannot be written the answer is UNAVAILABLE instead (fail closed).

mod admin;
mod call;
mod convert;
pub mod error;
mod keys;

use std::sync::Arc;

use crate::{audit::AuditLog, authz::Policy, domain::KeyManager, hardening::RateLimit};

pub use call::Call;

/// Everything a handler needs; shared by both services.
#[derive(Debug, Clone)]
pub struct Edge {
    manager: KeyManager,
    policy: Arc<Policy>,
    audit: Arc<AuditLog>,
    rate: RateLimit,
    max_batch_items: usize,
}

impl Edge {
    /// Assembles the edge.
    pub fn new(
        manager: KeyManager,
        policy: Arc<Policy>,
        audit: Arc<AuditLog>,
        rate: RateLimit,
        max_batch_items: usize,
    ) -> Self {
        Self {
            manager,
            policy,
            audit,
            rate,
            max_batch_items,
        }
    }

    /// The `KeyService` implementation.
    pub fn key_service(&self) -> KeyServiceApi {
        KeyServiceApi(self.clone())
    }

    /// The `KeyAdminService` implementation.
    pub fn admin_service(&self) -> KeyAdminApi {
        KeyAdminApi(self.clone())
    }
}

/// `keyservice.v1.KeyService` handlers.
#[derive(Debug, Clone)]
pub struct KeyServiceApi(Edge);

/// `keyservice.v1.KeyAdminService` handlers.
#[derive(Debug, Clone)]
pub struct KeyAdminApi(Edge);
