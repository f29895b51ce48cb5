-- Timed jobs and notifications: the outbox, the escalation ladder's fired rungs, each case's next
-- rung (indexed, so a sweep reads only the cases with a rung due), coordinators' e-mail, a
-- family's SMS opt-out, and the last run of each job (catch-up after downtime).

CREATE TABLE notifications (
    id TEXT PRIMARY KEY NOT NULL,
    dedup_key TEXT NOT NULL UNIQUE,
    case_id TEXT REFERENCES cases(id),
    hospital_id TEXT REFERENCES hospitals(id),
    template TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('email','sms')),
    recipient_role TEXT NOT NULL,
    recipient TEXT NOT NULL,
    locale TEXT NOT NULL,
    subject TEXT,
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued','sending','sent','delivered','failed','cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until TIMESTAMP,
    provider_message_id TEXT,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP,
    delivered_at TIMESTAMP
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status IN ('queued','sending');
CREATE INDEX notifications_status ON notifications (status, created_at);
CREATE INDEX notifications_case ON notifications (case_id);
CREATE INDEX notifications_provider ON notifications (provider_message_id);

CREATE TABLE case_escalations (
    case_id TEXT NOT NULL REFERENCES cases(id),
    rung TEXT NOT NULL CHECK (rung IN ('L0','L1','L2','L3','L4')),
    fired_at TIMESTAMP NOT NULL,
    recipients TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (case_id, rung)
);

ALTER TABLE cases ADD COLUMN next_rung TEXT;
ALTER TABLE cases ADD COLUMN next_rung_at TIMESTAMP;
CREATE INDEX cases_next_rung ON cases (next_rung_at) WHERE next_rung_at IS NOT NULL;

ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE infants ADD COLUMN sms_opt_out BOOLEAN NOT NULL DEFAULT 0;

CREATE TABLE job_runs (
    name TEXT PRIMARY KEY NOT NULL,
    last_started_at TIMESTAMP,
    last_finished_at TIMESTAMP,
    last_ok BOOLEAN,
    last_report TEXT
);
