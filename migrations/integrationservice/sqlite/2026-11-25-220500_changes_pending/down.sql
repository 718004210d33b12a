DROP TABLE changes_pending;
