-- Follow-up cases: due-time policy versions, cases (one open case per infant, programme and
-- reason, enforced by open_key) and their append-only event timeline.

CREATE TABLE due_policies (
    version TEXT PRIMARY KEY NOT NULL,
    effective_from DATE NOT NULL,
    content TEXT NOT NULL,
    published_by TEXT NOT NULL,
    published_at TIMESTAMP NOT NULL
);

CREATE TABLE cases (
    id TEXT PRIMARY KEY NOT NULL,
    infant_id TEXT NOT NULL REFERENCES infants(id),
    hospital_id TEXT NOT NULL REFERENCES hospitals(id),
    programme TEXT NOT NULL CHECK (programme IN ('DBS','HEAR','CCHD')),
    reason TEXT NOT NULL CHECK (reason IN ('positive','repeat','recollect','refer','missed')),
    state TEXT NOT NULL CHECK (state IN ('open','family_contacted','recall_scheduled','recheck_done','diagnostic_workup','resolved')),
    tier TEXT NOT NULL CHECK (tier IN ('T0','T1','T2','T3')),
    suspected TEXT NOT NULL DEFAULT '[]',
    catalogue_version TEXT NOT NULL,
    policy_version TEXT NOT NULL REFERENCES due_policies(version),
    first_contact_due_at TIMESTAMP NOT NULL,
    recall_due_at TIMESTAMP NOT NULL,
    assignee TEXT,
    outcome TEXT,
    open_key TEXT UNIQUE,
    version INTEGER NOT NULL,
    opened_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP
);
CREATE INDEX cases_due ON cases (state, recall_due_at);
CREATE INDEX cases_hospital ON cases (hospital_id, state, recall_due_at);
CREATE INDEX cases_infant ON cases (infant_id);

CREATE TABLE case_events (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases(id),
    kind TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    detail TEXT NOT NULL DEFAULT '{}',
    actor TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX case_events_case ON case_events (case_id, at);
