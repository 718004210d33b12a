DROP INDEX changes_created_at;
DROP TABLE change_feed_horizons;
DROP TABLE purge_runs;
DROP TABLE retention_policies;
