-- One row per ForgetPerson call: what was erased here and where the erasure at ON24 stands.
-- It never holds the person's email (the forget job carries it until it ends).
CREATE TABLE erasure_requests (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    state TEXT NOT NULL,
    failure_reason TEXT,
    registration_count BIGINT NOT NULL,
    metrics_count BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    completed_at BIGINT,
    PRIMARY KEY (tenant, id)
);
