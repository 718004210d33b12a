DROP TABLE minimisation_policies;
