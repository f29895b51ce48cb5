-- Long-term management of confirmed infants (高危儿专案管理): plan-set versions (immutable),
-- one episode per infant and condition while open (open_key), its follow-up contacts with their
-- windows and escalation schedule, fired contact rungs (once each), treatments (a history) and
-- the episode's timeline. An open episode's next_due_at is its earliest pending deadline
-- (treatment start, or a contact's window end): the worklist reads it through a partial index.
CREATE TABLE management_plans (
    version TEXT PRIMARY KEY NOT NULL,
    effective_from DATE NOT NULL,
    content TEXT NOT NULL,
    published_by TEXT NOT NULL,
    published_at TIMESTAMP NOT NULL
);

CREATE TABLE management_episodes (
    id TEXT PRIMARY KEY NOT NULL,
    infant_id TEXT NOT NULL REFERENCES infants(id),
    hospital_id TEXT NOT NULL REFERENCES hospitals(id),
    case_id TEXT REFERENCES cases(id),
    origin TEXT NOT NULL CHECK (origin IN ('case','referral')),
    condition_code TEXT NOT NULL,
    plan_version TEXT NOT NULL REFERENCES management_plans(version),
    plan_code TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('registered','treatment_started','under_follow_up','closed')),
    open_key TEXT UNIQUE,
    centre TEXT NOT NULL,
    diagnosed_at TIMESTAMP NOT NULL,
    treatment_due_at TIMESTAMP,
    treatment_started_at TIMESTAMP,
    next_due_at TIMESTAMP,
    flags INTEGER NOT NULL DEFAULT 0,
    reported_at TIMESTAMP,
    report_reference TEXT,
    close_reason TEXT,
    closure TEXT,
    closed_at TIMESTAMP,
    version INTEGER NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX management_episodes_due ON management_episodes (next_due_at, id) WHERE state <> 'closed';
CREATE INDEX management_episodes_hospital_due ON management_episodes (hospital_id, next_due_at, id) WHERE state <> 'closed';
CREATE INDEX management_episodes_infant ON management_episodes (infant_id);
CREATE INDEX management_episodes_case ON management_episodes (case_id);
CREATE INDEX management_episodes_created ON management_episodes (created_at);

CREATE TABLE management_contacts (
    id TEXT PRIMARY KEY NOT NULL,
    episode_id TEXT NOT NULL REFERENCES management_episodes(id),
    code TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('visit','test')),
    seq INTEGER NOT NULL,
    due_at TIMESTAMP NOT NULL,
    window_start TIMESTAMP NOT NULL,
    window_end TIMESTAMP NOT NULL,
    done_at TIMESTAMP,
    measurements TEXT,
    off_target TEXT,
    note TEXT,
    recorded_by TEXT,
    cancelled_at TIMESTAMP,
    next_rung TEXT,
    next_rung_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (episode_id, code, seq)
);
CREATE INDEX management_contacts_rung ON management_contacts (next_rung_at) WHERE next_rung_at IS NOT NULL;
CREATE INDEX management_contacts_due ON management_contacts (window_end) WHERE done_at IS NULL AND cancelled_at IS NULL;

CREATE TABLE management_contact_escalations (
    contact_id TEXT NOT NULL REFERENCES management_contacts(id),
    rung TEXT NOT NULL CHECK (rung IN ('M0','M1','M2')),
    fired_at TIMESTAMP NOT NULL,
    recipients TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (contact_id, rung)
);

CREATE TABLE management_treatments (
    id TEXT PRIMARY KEY NOT NULL,
    episode_id TEXT NOT NULL REFERENCES management_episodes(id),
    kind TEXT NOT NULL CHECK (kind IN ('medication','diet','hearing_aid','cochlear_implant','surgery','other')),
    regimen TEXT NOT NULL,
    prescriber TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX management_treatments_episode ON management_treatments (episode_id, started_at);

CREATE TABLE management_events (
    id TEXT PRIMARY KEY NOT NULL,
    episode_id TEXT NOT NULL REFERENCES management_episodes(id),
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX management_events_episode ON management_events (episode_id, at);
