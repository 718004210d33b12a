ALTER TABLE webinars DROP COLUMN questions_read_at;
ALTER TABLE webinars DROP COLUMN registration_questions;
