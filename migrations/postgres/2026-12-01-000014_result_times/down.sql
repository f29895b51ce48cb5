ALTER TABLE dbs_results DROP COLUMN tested_at;
