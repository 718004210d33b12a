-- The keyed-hash index holds sealed registrations only. With every row in it, a look-up of
-- rows written before emails were sealed (`email_hash IS NULL`, matched by clear email) could
-- be answered through this index, and was whenever the table had no statistics yet: every
-- unhashed row of the tenant read per element, seconds per sync chunk and growing with the
-- webinar. Without those rows here, the partial index on unhashed rows (by clear email) is
-- the only one that serves such a look-up. NULLs never conflicted, so the unique key keeps
-- the same meaning, and an index without them is smaller.
DROP INDEX registrations_email_hash;
CREATE UNIQUE INDEX registrations_email_hash ON registrations (tenant, email_hash, webinar_id)
    WHERE email_hash IS NOT NULL;
