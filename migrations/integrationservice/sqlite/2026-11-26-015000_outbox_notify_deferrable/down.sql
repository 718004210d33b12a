-- Nothing to do on SQLite: it has no NOTIFY (one process per database, woken in-process).
-- The folder exists so both backends keep the same migration names.
SELECT 1;
