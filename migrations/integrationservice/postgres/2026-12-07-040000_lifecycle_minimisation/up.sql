-- A tenant's data minimisation (issue #17): which optional registrant fields are stored and
-- sent to ON24 (a JSON array of proto field names; NULL: every field), and whether attendee
-- metrics are stored only for people the CRM registered. Nothing personal.
CREATE TABLE minimisation_policies (
    tenant TEXT PRIMARY KEY,
    allowed_fields TEXT,
    metrics_registered_only BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);
