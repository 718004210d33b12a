-- Per-tenant secrets, one per purpose (`email_hash`: the key of the suppression list's
-- HMAC). Each is a data key from the key service's GenerateDataKey, kept only wrapped: it
-- opens with the key service's UnwrapKey, bound to the tenant and purpose.
CREATE TABLE tenant_keys (
    tenant TEXT NOT NULL,
    purpose TEXT NOT NULL,
    wrapped_key BLOB NOT NULL,
    kek_version INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, purpose)
);

-- People a tenant must not register or store figures of again (forgotten, not re-consented),
-- by the hex HMAC-SHA-256 of their normalised email under the tenant's `email_hash` key:
-- never the email itself.
CREATE TABLE suppressions (
    tenant TEXT NOT NULL,
    email_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    erasure_request_id TEXT,
    PRIMARY KEY (tenant, email_hash)
);
