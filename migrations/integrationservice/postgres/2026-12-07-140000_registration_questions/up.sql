-- A webinar's custom registration questions as ON24 defines them (a JSON array of id,
-- caption, field type, required, options) and when they were last read (ms since the
-- epoch); both NULL until first read, and then registrations' answers are checked only by
-- their text rules. Definitions, not answers: nothing personal.
ALTER TABLE webinars ADD COLUMN registration_questions TEXT;
ALTER TABLE webinars ADD COLUMN questions_read_at BIGINT;
