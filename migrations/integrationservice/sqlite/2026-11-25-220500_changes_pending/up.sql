-- Present for schema parity with PostgreSQL only: SQLite has a single writer, which appends
-- to `changes` directly in commit order, so this table stays empty (see store/changes.rs).
CREATE TABLE changes_pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    webinar_id TEXT,
    registration_id TEXT,
    created_at BIGINT NOT NULL
);
