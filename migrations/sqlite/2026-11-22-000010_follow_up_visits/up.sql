-- Long-term follow-up (高危儿专案管理): visits scheduled when a case is confirmed.
CREATE TABLE follow_up_visits (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases(id),
    infant_id TEXT NOT NULL REFERENCES infants(id),
    hospital_id TEXT NOT NULL REFERENCES hospitals(id),
    condition_code TEXT NOT NULL,
    due_at TIMESTAMP NOT NULL,
    done_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX follow_up_visits_due ON follow_up_visits (due_at);
CREATE INDEX follow_up_visits_case ON follow_up_visits (case_id);
