-- ON24's attendee report gives first and last activity for live and for on-demand (archive)
-- viewing separately; the API has a field for each. The old pair held the earliest and latest
-- of both: it becomes the live pair, and rows that hold only on-demand viewing move theirs to
-- the archive pair. Rows with both kinds cannot be split here; the next metrics pull rewrites
-- them (a pull writes every row whose figures changed).
ALTER TABLE attendee_metrics RENAME COLUMN first_activity_at TO first_live_activity_at;
ALTER TABLE attendee_metrics RENAME COLUMN last_activity_at TO last_live_activity_at;
ALTER TABLE attendee_metrics ADD COLUMN first_archive_activity_at BIGINT;
ALTER TABLE attendee_metrics ADD COLUMN last_archive_activity_at BIGINT;
UPDATE attendee_metrics
   SET first_archive_activity_at = first_live_activity_at,
       last_archive_activity_at = last_live_activity_at
 WHERE live_minutes = 0 AND archive_minutes > 0;
UPDATE attendee_metrics
   SET first_live_activity_at = NULL,
       last_live_activity_at = NULL
 WHERE live_minutes = 0;
