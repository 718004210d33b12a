//! The rules of the integration service, with no gRPC types: provider configuration,
//! webinars, registrations, metrics and the change feed. Every write commits its business
//! rows, its outbox jobs and its change-feed entries in one transaction, then wakes the
//! workers and the tenant's change watchers in this process, and on PostgreSQL tells the other
//! replicas (`store::notify`).

pub mod change_signals;
pub mod credentials;
pub mod erasure_requests;
pub mod error;
pub mod jobs;
pub mod key_generation;
pub mod metrics;
pub mod minimisation;
pub mod offboarding;
pub mod paging;
pub mod person_data;
pub mod providers;
pub mod registrant;
pub mod registration_questions;
pub mod registrations;
pub mod retention;
pub mod suppression;
pub(crate) mod tenant_keys;
pub mod types;
pub mod webinar_fields;
pub mod webinars;

use std::sync::Arc;

use tokio::sync::Notify;

pub use crate::ids::{ErasureRequestId, RegistrationId, TenantId, WebinarId};
pub use credentials::{AccessToken, BaseUrl, On24ClientId, Region};
pub use error::{Error, Invalid};
pub use paging::PageSize;
pub use registrant::{
    AnswerValidation, Email, PersonName, RegistrantField, RegistrantFields, RegistrationQuestion,
    organisation_text,
};
pub use types::*;
pub use webinar_fields::{
    CrmReference, Description, DurationMinutes, EventType, Language, RequestId, StartTime,
    TimeZone, Title,
};

use crate::crypto::Envelope;
use crate::provider::WebinarProvider;
use crate::store::Store;

/// Wake-ups: new jobs for the workers, new changes for the tenant's feed watchers.
#[derive(Clone, Debug, Default)]
pub struct Signals {
    jobs: Arc<Notify>,
    changes: Arc<change_signals::ChangeWatchers>,
    /// Where other replicas hear of this replica's changes; None for signals that stay in
    /// this process.
    replicas: Option<Store>,
}

impl Signals {
    /// Signals whose changes also reach the other replicas on `store`'s database
    /// (PostgreSQL; nothing more on SQLite, where one process serves the database).
    pub fn for_store(store: &Store) -> Self {
        Self {
            replicas: Some(store.clone()),
            ..Self::default()
        }
    }

    /// Wakes a waiting worker (or the next one to wait).
    pub fn jobs_added(&self) {
        self.jobs.notify_waiters();
        self.jobs.notify_one();
    }

    /// Resolves when jobs were added (workers also poll, for other replicas' jobs).
    pub async fn wait_jobs(&self) {
        self.jobs.notified().await;
    }

    /// Tells `tenant`'s change watchers, here and on the other replicas, that its feed grew
    /// (call after the commit).
    pub fn changes_added(&self, tenant: &TenantId) {
        self.changes.wake(tenant);
        if let Some(store) = &self.replicas {
            store.tell_other_replicas_of_changes(tenant);
        }
    }

    /// Tells `tenant`'s change watchers in this process only that its feed grew (another
    /// replica's change, heard through the database).
    pub fn changes_arrived(&self, tenant: &TenantId) {
        self.changes.wake(tenant);
    }

    /// Makes every watcher in this process re-read its feed once: changes may have been
    /// committed while this process could not hear of them.
    pub fn changes_maybe_missed(&self) {
        self.changes.wake_all();
    }

    /// A subscription to `tenant`'s change wake-ups.
    pub fn subscribe_changes(&self, tenant: &TenantId) -> change_signals::ChangeSubscription {
        self.changes.subscribe(tenant)
    }

    /// How many change wake-ups `tenant`'s watchers in this process got while watching
    /// (0 when none watches): lets tests see that a tenant's watchers slept through
    /// another tenant's changes.
    pub fn change_wakes(&self, tenant: &TenantId) -> u64 {
        self.changes.wakes(tenant)
    }

    /// Tenants with open watchers in this process.
    pub fn watched_tenants(&self) -> usize {
        self.changes.tenants()
    }
}

/// The domain services over one store, one key service and one provider. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) store: Store,
    pub(crate) envelope: Envelope,
    pub(crate) provider: Arc<dyn WebinarProvider>,
    pub(crate) signals: Signals,
    /// Metrics syncs in flight, one per webinar (`Metrics::sync_now` joins a running one).
    pub(crate) syncs: metrics::SyncsInFlight,
    /// Per-tenant limit on data keys generated for credential puts.
    pub(crate) key_generation: key_generation::KeyGenerationLimit,
    /// The deployment's retention settings (`[retention]`).
    pub(crate) retention: retention::RetentionDefaults,
    /// How long the key service waits before destroying a purged tenant's KEK (None: the
    /// key service's default, 30 days).
    pub(crate) tenant_kek_deletion_waiting: Option<std::time::Duration>,
    /// Tenants' personal-data ciphers, briefly (`tenant_keys::field_cipher`).
    pub(crate) field_ciphers: tenant_keys::FieldCiphers,
    /// Single registrations waiting to be written with others for the same webinar.
    pub(crate) coalescer: registrations::Coalescer,
}

impl Engine {
    /// Assembles the services.
    pub fn new(store: Store, envelope: Envelope, provider: Arc<dyn WebinarProvider>) -> Self {
        let signals = Signals::for_store(&store);
        Self {
            store,
            envelope,
            provider,
            signals,
            syncs: metrics::SyncsInFlight::default(),
            // Unlimited until `with_key_generation_limit`: the server always sets it from
            // `[limits]`; tests and tools that assemble an engine choose.
            key_generation: key_generation::KeyGenerationLimit::new(0, 0),
            retention: retention::RetentionDefaults::default(),
            tenant_kek_deletion_waiting: None,
            field_ciphers: tenant_keys::FieldCiphers::default(),
            coalescer: registrations::Coalescer::default(),
        }
    }

    /// How long the key service waits before destroying a purged tenant's KEK (the time left
    /// to cancel a mistaken purge's key deletion there); the key service's own default and
    /// minimum apply otherwise.
    #[must_use]
    pub fn with_tenant_kek_deletion_waiting(mut self, waiting: std::time::Duration) -> Self {
        self.tenant_kek_deletion_waiting = Some(waiting);
        self
    }

    /// Limits data-key generation for credential puts to `per_minute` per tenant with bursts
    /// of `burst` (0: `per_minute`); `per_minute` 0 turns the limit off.
    #[must_use]
    pub fn with_key_generation_limit(mut self, per_minute: u32, burst: u32) -> Self {
        self.key_generation = key_generation::KeyGenerationLimit::new(per_minute, burst);
        self
    }

    /// Stores personal columns in clear. **Benchmark only** (`benches/service.rs` compares
    /// the hot paths with encryption at rest on and off in one run): no configuration sets
    /// it, and an engine built this way cannot read what an encrypting one wrote.
    #[doc(hidden)]
    #[must_use]
    pub fn without_field_encryption_for_benchmark(mut self) -> Self {
        self.field_ciphers = tenant_keys::FieldCiphers::off();
        self
    }

    /// The store (for the workers and the `migrate` command).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The envelope (for the rewrap job).
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The provider behind the seam.
    pub fn provider(&self) -> &Arc<dyn WebinarProvider> {
        &self.provider
    }

    /// Wake-ups shared with the workers and the feed.
    pub fn signals(&self) -> &Signals {
        &self.signals
    }

    /// Provider configuration service.
    pub fn providers(&self) -> providers::ProviderConfigs<'_> {
        providers::ProviderConfigs { engine: self }
    }

    /// Webinar service.
    pub fn webinars(&self) -> webinars::Webinars<'_> {
        webinars::Webinars { engine: self }
    }

    /// Registration service.
    pub fn registrations(&self) -> registrations::Registrations<'_> {
        registrations::Registrations { engine: self }
    }

    /// Erasure requests (the records of `ForgetPerson` calls).
    pub fn erasure_requests(&self) -> erasure_requests::ErasureRequests<'_> {
        erasure_requests::ErasureRequests { engine: self }
    }

    /// The suppression list (people forgotten and not to be taken back).
    pub fn suppressions(&self) -> suppression::Suppressions<'_> {
        suppression::Suppressions { engine: self }
    }

    /// Access requests: everything held about one person.
    pub fn person_data(&self) -> person_data::PersonDataService<'_> {
        person_data::PersonDataService { engine: self }
    }

    /// The same engine under these retention settings (the server sets them from
    /// `[retention]`; an engine assembled without it has [`retention::RetentionDefaults`]'s).
    #[must_use]
    pub fn with_retention(mut self, retention: retention::RetentionDefaults) -> Self {
        self.retention = retention;
        self
    }

    /// Data minimisation policies.
    pub fn minimisation(&self) -> minimisation::Minimisation<'_> {
        minimisation::Minimisation { engine: self }
    }

    /// Tenant offboarding (`PurgeTenant`).
    pub fn offboarding(&self) -> offboarding::Offboarding<'_> {
        offboarding::Offboarding { engine: self }
    }

    /// Retention policies and the purge.
    pub fn retention(&self) -> retention::Retention<'_> {
        retention::Retention { engine: self }
    }

    /// Metrics and change-feed service.
    pub fn metrics(&self) -> metrics::Metrics<'_> {
        metrics::Metrics { engine: self }
    }
}
