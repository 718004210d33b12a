-- Registrations written before emails were sealed (a clear email, no keyed hash yet) are
-- looked for by their clear email until the sealing worker reaches them: on every batch
-- insert ("does this webinar hold any?", then the person's clear email). This index holds only
-- those rows, so both checks are a probe of an index that is empty once the migration ends;
-- without it the planner, before statistics exist, answered them by reading every row of the
-- webinar.
CREATE INDEX registrations_unhashed ON registrations (tenant, webinar_id, email)
    WHERE email_hash IS NULL AND email IS NOT NULL;
