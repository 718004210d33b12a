UPDATE attendee_metrics
   SET first_live_activity_at = first_archive_activity_at,
       last_live_activity_at = last_archive_activity_at
 WHERE first_live_activity_at IS NULL;
ALTER TABLE attendee_metrics DROP COLUMN last_archive_activity_at;
ALTER TABLE attendee_metrics DROP COLUMN first_archive_activity_at;
ALTER TABLE attendee_metrics RENAME COLUMN last_live_activity_at TO last_activity_at;
ALTER TABLE attendee_metrics RENAME COLUMN first_live_activity_at TO first_activity_at;
