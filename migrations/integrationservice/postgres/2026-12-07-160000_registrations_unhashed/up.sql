-- Registrations written before emails were sealed (a clear email, no keyed hash yet) are
-- looked for by their clear email until the sealing worker reaches them: on every batch
-- insert ("does this webinar hold any?", then the person's clear email). A unique index that
-- holds only those rows (empty once the sealing migration ends) makes both checks a probe and
-- keeps one clear row per person and webinar; without it the planner, before statistics
-- existed, answered them by reading every row of the webinar. It replaces the unique key on
-- every email: sealed emails never repeat (each has a fresh nonce), so that key only cost an
-- index entry of a long random value per registration; the keyed hash's unique key is what
-- keeps one sealed registration per person and webinar.
ALTER TABLE registrations DROP CONSTRAINT registrations_tenant_webinar_id_email_key;
CREATE UNIQUE INDEX registrations_unhashed ON registrations (tenant, webinar_id, email)
    WHERE email_hash IS NULL AND email IS NOT NULL;
