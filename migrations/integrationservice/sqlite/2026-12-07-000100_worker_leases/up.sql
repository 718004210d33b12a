-- One row per singleton job (the rewrap pass): the replica holding it until expires_at (ms
-- since the epoch) runs the job; the others skip their turn. A holder that dies stops
-- renewing and the lease passes on once it expires.
CREATE TABLE worker_leases (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
