UPDATE registrations SET email = 'forgotten:' || id WHERE email IS NULL;
ALTER TABLE registrations ALTER COLUMN email SET NOT NULL;
