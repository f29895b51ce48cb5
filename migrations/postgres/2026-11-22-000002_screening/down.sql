DROP TABLE screening_consents;
DROP TABLE cchd_screens;
DROP TABLE hearing_screens;
DROP TABLE dbs_interpretations;
DROP TABLE dbs_results;
DROP TABLE dbs_cards;
DROP TABLE catalogue_versions;
