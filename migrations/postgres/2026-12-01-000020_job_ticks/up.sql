-- Each scheduled tick of a job runs on one server: the first to insert (job, scheduled time)
-- runs it, the others skip it. Which server ran a job's last run is kept with the run.
CREATE TABLE job_ticks (
    job TEXT NOT NULL,
    tick_at TIMESTAMP NOT NULL,
    server TEXT NOT NULL,
    claimed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (job, tick_at)
);
ALTER TABLE job_runs ADD COLUMN last_server TEXT;
