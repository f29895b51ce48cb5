-- Contact attempts on cases, and contact-problem flags on cases and infants.
CREATE TABLE contact_attempts (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases(id),
    channel TEXT NOT NULL CHECK (channel IN ('phone','sms','email','home_visit','via_hospital')),
    outcome TEXT NOT NULL CHECK (outcome IN ('reached','no_answer','wrong_number','refused','moved')),
    contacted_by TEXT NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    note TEXT,
    recorded_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX contact_attempts_case ON contact_attempts (case_id, attempted_at);
ALTER TABLE cases ADD COLUMN contact_problem BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE infants ADD COLUMN contact_problem BOOLEAN NOT NULL DEFAULT FALSE;
