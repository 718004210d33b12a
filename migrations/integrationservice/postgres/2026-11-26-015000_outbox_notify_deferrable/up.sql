-- The outbox trigger's NOTIFY can be deferred by the writing transaction. PostgreSQL makes
-- the commits of notifying transactions take turns (one database-wide lock held through the
-- commit's WAL flush), so a NOTIFY in every registration capped them at about one commit per
-- fsync. A transaction that sets `integrationservice.outbox_notify` to `deferred` (the
-- registration statement does, with set_config(..., true)) is not notified for; its writer
-- sends one coalesced NOTIFY after the commit instead (domain/registrations.rs, ReplicaWake).
CREATE OR REPLACE FUNCTION outbox_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('integrationservice.outbox_notify', true) IS DISTINCT FROM 'deferred' THEN
        PERFORM pg_notify('outbox_jobs', '');
    END IF;
    RETURN NULL;
END
$$;
