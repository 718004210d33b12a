-- Registrations written before emails were sealed (a clear email, no keyed hash yet) are
-- looked for by their clear email until the sealing worker reaches them. An index holding only
-- those rows (empty once the sealing migration ends) makes those checks a probe. (PostgreSQL
-- also drops the unique key on every email here; SQLite keeps it, as dropping it would mean
-- rebuilding the table.)
CREATE INDEX registrations_unhashed ON registrations (tenant, webinar_id, email)
    WHERE email_hash IS NULL AND email IS NOT NULL;
