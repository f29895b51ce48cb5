ALTER TABLE infants DROP COLUMN nicu_days;
ALTER TABLE dbs_results DROP COLUMN tested_at;
