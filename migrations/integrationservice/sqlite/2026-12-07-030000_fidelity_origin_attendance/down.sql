ALTER TABLE registrations DROP COLUMN attendance;
ALTER TABLE registrations DROP COLUMN origin;
