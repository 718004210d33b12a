//! The stored names of the integration service's statuses and kinds: each enum maps to the
//! text its column holds through one `as_str`/`parse` pair, so queries filter on the enum and
//! no status is spelled as a string literal anywhere else. The domain re-exports them.

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $variant),+ }
        impl $name {
            /// The stored name.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),+ }
            }
            /// Reads a stored name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

string_enum!(
    /// Where a registration stands with the provider.
    RegistrationStatus {
        /// Accepted, not yet delivered.
        Pending = "PENDING",
        /// The provider has it (with its `eventuserid`).
        Delivered = "DELIVERED",
        /// A delivery failed and will be retried.
        Retrying = "RETRYING",
        /// The provider refused it for good.
        Failed = "FAILED",
        /// Cancelled (soft delete at the provider).
        Cancelled = "CANCELLED",
        /// Erased on request (GDPR).
        Forgotten = "FORGOTTEN",
        /// Held while the tenant's integration is disabled.
        Paused = "PAUSED",
    }
);

string_enum!(
    /// Where a registration started.
    RegistrationOrigin {
        /// Sent by the CRM through this service, and delivered to the provider by it.
        Crm = "CRM",
        /// Registered through the provider's own channels and brought in by a sync; never
        /// sent back to the provider.
        On24 = "ON24",
    }
);

string_enum!(
    /// A registration's attendance outcome.
    Attendance {
        /// Not known yet: the live event has not ended (or no sync ran since).
        Unknown = "UNKNOWN",
        /// Watched the live broadcast only.
        AttendedLive = "ATTENDED_LIVE",
        /// Watched the recording only.
        AttendedOnDemand = "ATTENDED_ON_DEMAND",
        /// Watched live and the recording.
        AttendedBoth = "ATTENDED_BOTH",
        /// The event ended and the person watched nothing.
        NoShow = "NO_SHOW",
    }
);

impl Attendance {
    /// Every outcome, in the order counts are reported.
    pub const ALL: [Self; 5] = [
        Self::Unknown,
        Self::AttendedLive,
        Self::AttendedOnDemand,
        Self::AttendedBoth,
        Self::NoShow,
    ];

    /// The outcome of an ended event from the minutes watched live and on demand.
    pub fn from_minutes(live: i64, archive: i64) -> Self {
        match (live > 0, archive > 0) {
            (true, true) => Self::AttendedBoth,
            (true, false) => Self::AttendedLive,
            (false, true) => Self::AttendedOnDemand,
            (false, false) => Self::NoShow,
        }
    }
}

string_enum!(
    /// Where a forget request stands.
    ErasureState {
        /// Erased here; nothing was to be sent to the provider (final).
        LocalDone = "LOCAL_DONE",
        /// Erased here; the erasure at the provider is queued or waits for credentials.
        ProviderPending = "PROVIDER_PENDING",
        /// Erased here and at the provider (or the provider held nothing of the person).
        Done = "DONE",
        /// The provider refused the erasure for good; see the failure reason.
        Failed = "FAILED",
    }
);

string_enum!(
    /// Health of a tenant's provider credentials.
    CredentialStatus {
        /// Never checked yet.
        Unchecked = "UNCHECKED",
        /// The last call worked.
        Healthy = "HEALTHY",
        /// Wrong client id, key or secret.
        NotAuthenticated = "NOT_AUTHENTICATED",
        /// The token was deactivated.
        TokenExpired = "TOKEN_EXPIRED",
        /// The account may not do this.
        Forbidden = "FORBIDDEN",
        /// The provider failed for another reason.
        Unhealthy = "UNHEALTHY",
    }
);

string_enum!(
    /// Where a webinar stands with the provider.
    WebinarStatus {
        /// Waiting to be created at the provider.
        Pending = "PENDING",
        /// Exists at the provider.
        Active = "ACTIVE",
        /// The provider refused to create it.
        Failed = "FAILED",
        /// Unlinked from this service.
        Unlinked = "UNLINKED",
    }
);

string_enum!(
    /// What a change-feed entry is about.
    ChangeKind {
        /// A registration changed (status or fields).
        Registration = "REGISTRATION",
        /// An attendee's metrics changed.
        AttendeeMetrics = "ATTENDEE_METRICS",
        /// An attendee's interactions (questions, answers, resources, CTAs, certifications)
        /// changed.
        AttendeeInteractions = "ATTENDEE_INTERACTIONS",
        /// A webinar changed.
        Webinar = "WEBINAR",
        /// The tenant's credentials changed.
        Credentials = "CREDENTIALS",
        /// An erasure request was made or ended (its id is in the entry's registration id
        /// column: both are UUIDs, and an erasure request belongs to no registration).
        ErasureRequest = "ERASURE_REQUEST",
    }
);

impl CredentialStatus {
    /// True when calls with these credentials are pointless until they change.
    pub fn blocks_calls(self) -> bool {
        matches!(
            self,
            Self::NotAuthenticated | Self::TokenExpired | Self::Forbidden
        )
    }
}

string_enum!(
    /// Where an outbox job stands.
    JobState {
        /// Ready to be claimed once `next_run_at` has passed.
        Ready = "READY",
        /// Leased by a worker until `lease_until`.
        Running = "RUNNING",
        /// Held while the tenant's integration is disabled.
        Paused = "PAUSED",
        /// Stopped by a permanent error; kept for inspection.
        Failed = "FAILED",
    }
);

impl JobState {
    /// Every state, in the order the outbox gauges report them.
    pub const ALL: [Self; 4] = [Self::Ready, Self::Running, Self::Paused, Self::Failed];
}

string_enum!(
    /// What an outbox job does at the provider (`outbox_jobs.kind`); `workers::jobs` has one
    /// handler per kind.
    JobKind {
        /// Create the webinar at the provider.
        CreateEvent = "create_event",
        /// Read a linked webinar's URLs from the provider.
        RefreshEvent = "refresh_event",
        /// Push webinar changes to the provider.
        UpdateEvent = "update_event",
        /// Register a person at the provider.
        DeliverRegistration = "deliver_registration",
        /// Push a registration's changed fields.
        UpdateRegistration = "update_registration",
        /// Cancel a registration at the provider.
        CancelRegistration = "cancel_registration",
        /// Erase people at the provider; the payload is the emails.
        Forget = "forget",
        /// Pull a webinar's attendee metrics.
        SyncMetrics = "sync_metrics",
    }
);
