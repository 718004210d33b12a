//! The integration service the CRM calls: ON24 credentials, webinars, registrations and metrics.
//!
//! Contents, by layer (see `docs/architecture.md`):
//! - [`server`]: the process: gRPC listeners, TLS, the workers, shutdown. [`config`]: its
//!   settings. These two are what the binary uses.
//! - `api`: the gRPC services; parse each request once, map `domain::Error` to a status.
//! - `auth`: who calls, and for which tenants. [`audit`]: the access audit of calls that read
//!   or change personal data.
//! - [`domain`]: the rules, on typed values; the engine the API and the workers share.
//! - `store`: the only code that speaks SQL, one module per aggregate.
//! - `workers`: the outbox: claim, run one handler per job kind, record the result.
//! - `provider`: the seam to the webinar platform, and its ON24 implementation.
//! - `crypto`, `keyclient`: envelope encryption of credentials, through the key service.
//! - `telemetry`, `status`: metrics, spans and health, leaves every layer may call.
//! - `ids`, `invalid`, `registrant_fields`, `attendee_activity`: leaf value types shared by
//!   the domain, the store and the provider seam.
//! - [`testing`]: what the integration tests and benches reach below the domain.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod audit;
pub mod config;
pub mod domain;
#[doc(hidden)]
pub mod fuzzing;
pub mod server;

mod api;
mod attendee_activity;
mod auth;
mod crypto;
mod ids;
mod invalid;
mod keyclient;
mod provider;
mod registrant_fields;
mod status;
mod store;
mod telemetry;
mod workers;

/// The parts below the domain that the integration tests and benches drive directly: the
/// store and its tables (to arrange and inspect rows), the workers, the key client and the
/// ON24 provider. Not a stable interface.
#[doc(hidden)]
pub mod testing {
    pub use crate::crypto::{
        Envelope, TENANT_KEK_PREFIX,
        cache::DekCache,
        credentials_aad,
        fields::{FieldCipher, is_sealed},
        tenant_kek_id, tenant_key_aad,
    };
    pub use crate::keyclient::{KeyClient, KeyClientConfig, wrapped_version};
    pub use crate::provider::{
        ActivityWindow, AttendeeActivity, AttendeeInteraction, AttendeeReport, InteractionKind,
        ProviderCredentials, WebinarProvider, on24::On24Provider,
    };
    pub use crate::store::{
        Store, changes, interactions, leases, metrics, models, now_ms, outbox, providers,
        registrations, retention, schema, status, tenant_keys, tenant_purge,
    };
    pub use crate::workers::{
        Backoff, MetricsSchedule, WorkerConfig, Workers,
        execute::event_marker,
        recorder::{BatchedSuccess, Recorder},
        rewrap::rewrap_all,
        seal::{SealReport, seal_plaintext_registrations},
    };
    pub use servicekit::db::{DbConnection, StoreError};

    /// The tenant's personal-data cipher, which also keys emails (made on first use), as the
    /// service uses it: for tests that call the store directly.
    pub async fn tenant_cipher(
        engine: &crate::domain::Engine,
        tenant: &crate::domain::TenantId,
    ) -> Result<std::sync::Arc<FieldCipher>, crate::domain::Error> {
        crate::domain::tenant_keys::field_cipher(engine, tenant, true).await
    }
}
