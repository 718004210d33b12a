-- Where a registration started: CRM (sent by the CRM, delivered to ON24) or ON24 (registered
-- through ON24's own channels and brought in by a sync; never sent back to ON24).
ALTER TABLE registrations ADD COLUMN origin TEXT NOT NULL DEFAULT 'CRM';
-- The person's attendance outcome, set by metrics syncs once the live event has ended:
-- UNKNOWN, ATTENDED_LIVE, ATTENDED_ON_DEMAND, ATTENDED_BOTH or NO_SHOW.
ALTER TABLE registrations ADD COLUMN attendance TEXT NOT NULL DEFAULT 'UNKNOWN';
