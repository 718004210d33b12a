ALTER TABLE webinars DROP COLUMN metrics_watermark;
