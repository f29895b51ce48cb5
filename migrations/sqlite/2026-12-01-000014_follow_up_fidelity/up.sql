-- Results carry the laboratory's own test time (reported_at is the laboratory's report time,
-- or arrival when it sends none).
ALTER TABLE dbs_results ADD COLUMN tested_at TIMESTAMP;
-- The infant's NICU stay, recorded once and used by every hearing assessment.
ALTER TABLE infants ADD COLUMN nicu_days INTEGER;
