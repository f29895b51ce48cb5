ALTER TABLE infants DROP COLUMN contact_problem;
ALTER TABLE cases DROP COLUMN contact_problem;
DROP TABLE contact_attempts;
