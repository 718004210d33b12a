-- The integration service's store: provider configurations (encrypted credentials), webinars,
-- registrations, the outbox of deliveries to the provider, attendee metrics and the change feed.
-- Times are milliseconds since the Unix epoch (BIGINT) so PostgreSQL and SQLite share one schema.

CREATE TABLE provider_configs (
    tenant TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    client_id BIGINT NOT NULL,
    region TEXT NOT NULL,
    base_url TEXT,
    key_hint TEXT NOT NULL,
    -- Envelope-encrypted secret: the DEK wrapped by the key service, the AES-GCM nonce and the
    -- ciphertext of the token key + secret. secret_version is part of the AAD (record identity).
    wrapped_dek BYTEA NOT NULL,
    dek_key_version INTEGER NOT NULL,
    nonce BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL,
    secret_version BIGINT NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT,
    last_check_at BIGINT,
    last_metrics_at BIGINT,
    -- Per-tenant slow-down after ON24's quota 403: no deliveries before this time.
    throttle_until BIGINT,
    throttle_level INTEGER NOT NULL DEFAULT 0,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE webinars (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    crm_reference_id TEXT NOT NULL,
    request_id TEXT,
    description TEXT,
    on24_event_id BIGINT,
    linked BOOLEAN NOT NULL,
    title TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    duration_minutes INTEGER NOT NULL,
    time_zone TEXT NOT NULL,
    language TEXT NOT NULL,
    event_type TEXT NOT NULL,
    status TEXT NOT NULL,
    last_error TEXT,
    audience_url TEXT,
    report_url TEXT,
    preview_url TEXT,
    next_metrics_at BIGINT,
    last_metrics_at BIGINT,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE UNIQUE INDEX webinars_crm_reference ON webinars (tenant, crm_reference_id) WHERE deleted = FALSE;
CREATE INDEX webinars_metrics_due ON webinars (next_metrics_at) WHERE next_metrics_at IS NOT NULL;

CREATE TABLE registrations (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    webinar_id TEXT NOT NULL,
    email TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    company TEXT,
    job_title TEXT,
    crm_reference_id TEXT,
    extra TEXT NOT NULL,
    status TEXT NOT NULL,
    eventuserid BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at BIGINT,
    request_id TEXT,
    delivered_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, id),
    UNIQUE (tenant, webinar_id, email)
);
CREATE INDEX registrations_list ON registrations (tenant, webinar_id, id);
CREATE UNIQUE INDEX registrations_request ON registrations (tenant, webinar_id, request_id) WHERE request_id IS NOT NULL;

CREATE TABLE outbox_jobs (
    id BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    webinar_id TEXT,
    registration_id TEXT,
    payload TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_run_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    trace_context TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX outbox_ready ON outbox_jobs (state, next_run_at);
CREATE INDEX outbox_tenant ON outbox_jobs (tenant, state);

CREATE TABLE attendee_metrics (
    tenant TEXT NOT NULL,
    webinar_id TEXT NOT NULL,
    email TEXT NOT NULL,
    eventuserid BIGINT,
    live_minutes BIGINT NOT NULL,
    archive_minutes BIGINT NOT NULL,
    cumulative_live_minutes BIGINT NOT NULL,
    cumulative_archive_minutes BIGINT NOT NULL,
    engagement_score DOUBLE PRECISION NOT NULL,
    questions_asked BIGINT NOT NULL,
    polls_answered BIGINT NOT NULL,
    surveys_answered BIGINT NOT NULL,
    resources_downloaded BIGINT NOT NULL,
    first_activity_at BIGINT,
    last_activity_at BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, webinar_id, email)
);

-- The change feed: a monotonic sequence the CRM keeps as its cursor.
CREATE TABLE changes (
    seq BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    webinar_id TEXT,
    registration_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX changes_tenant ON changes (tenant, seq);
