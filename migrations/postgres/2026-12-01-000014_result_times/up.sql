-- Results carry the laboratory's own test time (reported_at is the laboratory's report time,
-- or arrival when it sends none).
ALTER TABLE dbs_results ADD COLUMN tested_at TIMESTAMP;
