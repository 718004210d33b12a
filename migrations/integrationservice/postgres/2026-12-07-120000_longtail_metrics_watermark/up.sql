-- The end of the attendee-activity window a webinar's syncs have read (ms since the epoch):
-- long-tail syncs ask ON24 only for attendees active after it. Nothing personal.
ALTER TABLE webinars ADD COLUMN metrics_watermark BIGINT;
