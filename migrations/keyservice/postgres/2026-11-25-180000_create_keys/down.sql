DROP TABLE key_versions;
DROP TABLE keys;
