-- Change-feed entries written by transactions that have not been given their place in the
-- feed yet. Writers append here without any lock, so concurrent commits (and their fsyncs)
-- overlap; a short "sequencer" transaction under an advisory lock moves committed rows into
-- `changes`, where `seq` numbers are assigned and commit in order (see store/changes.rs).
CREATE TABLE changes_pending (
    id BIGSERIAL PRIMARY KEY,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    webinar_id TEXT,
    registration_id TEXT,
    created_at BIGINT NOT NULL
);
