ALTER TABLE changes_pending DROP CONSTRAINT changes_pending_pkey;
ALTER TABLE changes_pending ADD PRIMARY KEY (id);

CREATE INDEX changes_tenant ON changes (tenant, seq);
ALTER TABLE changes DROP CONSTRAINT changes_pkey;
ALTER TABLE changes ADD PRIMARY KEY (seq);

ALTER TABLE outbox_jobs DROP CONSTRAINT outbox_jobs_pkey;
ALTER TABLE outbox_jobs ADD PRIMARY KEY (id);
