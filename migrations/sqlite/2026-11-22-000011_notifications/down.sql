DROP TABLE job_runs;
ALTER TABLE infants DROP COLUMN sms_opt_out;
ALTER TABLE users DROP COLUMN email;
DROP INDEX cases_next_rung;
ALTER TABLE cases DROP COLUMN next_rung_at;
ALTER TABLE cases DROP COLUMN next_rung;
DROP TABLE case_escalations;
DROP TABLE notifications;
