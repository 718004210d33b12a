-- A tenant's retention overrides (issue #17): each NULL column takes the deployment's default
-- (`[retention]` in the configuration); 0 keeps for ever. Nothing personal.
CREATE TABLE retention_policies (
    tenant TEXT PRIMARY KEY,
    registration_days INTEGER,
    cancelled_registration_days INTEGER,
    unlinked_webinar_days INTEGER,
    failed_job_days INTEGER,
    updated_at BIGINT NOT NULL
);

-- One row per purge run: what it deleted, by kind. Counts only, never who.
CREATE TABLE purge_runs (
    id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    registrations BIGINT NOT NULL,
    attendee_metrics BIGINT NOT NULL,
    cancelled_registrations BIGINT NOT NULL,
    webinars BIGINT NOT NULL,
    jobs BIGINT NOT NULL,
    changes BIGINT NOT NULL
);

-- The highest change-feed `seq` of each tenant the purge deleted: a cursor below it may have
-- missed entries, so the feed refuses it.
CREATE TABLE change_feed_horizons (
    tenant TEXT PRIMARY KEY,
    purged_through_seq BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The purge finds feed entries by age.
CREATE INDEX changes_created_at ON changes (created_at);
