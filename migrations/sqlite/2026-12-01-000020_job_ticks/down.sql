ALTER TABLE job_runs DROP COLUMN last_server;
DROP TABLE job_ticks;
