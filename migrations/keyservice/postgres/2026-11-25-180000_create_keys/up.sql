-- Keys and their versions. Times are microseconds since the Unix epoch (UTC) so one
-- diesel schema serves PostgreSQL and SQLite alike.
CREATE TABLE keys (
    id TEXT PRIMARY KEY,
    -- 1 = encrypt/decrypt
    purpose INTEGER NOT NULL,
    -- 1 = enabled, 2 = deletion scheduled, 3 = destroyed
    state INTEGER NOT NULL,
    primary_version INTEGER NOT NULL,
    min_decryption_version INTEGER NOT NULL,
    -- NULL: no time-based rotation
    rotation_period_secs BIGINT,
    -- 0: the service default
    max_wraps_per_version BIGINT NOT NULL,
    delete_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- Bumped on every change; writers compare-and-set it (optimistic concurrency).
    generation BIGINT NOT NULL
);

CREATE TABLE key_versions (
    key_id TEXT NOT NULL REFERENCES keys (id),
    version INTEGER NOT NULL,
    -- 1 = enabled, 2 = disabled
    state INTEGER NOT NULL,
    -- The KEK sealed under the root key with AAD = key id + version; never plaintext.
    -- Emptied when the key is destroyed.
    sealed_kek BYTEA NOT NULL,
    wrap_count BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    -- Two replicas rotating at once cannot both create the same version.
    PRIMARY KEY (key_id, version)
);
