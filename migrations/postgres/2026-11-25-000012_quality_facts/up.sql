-- Quality facts: for each infant and each blood-spot card, the event times the quality
-- indicators count, kept in the transaction of every write that changes them
-- (`db::models::quality_facts`) and rebuilt from the source tables when they are missing. The
-- quality report counts these narrow rows in one scan; the drill-down reads the source tables.
-- Derived data: no foreign keys, every row can be recomputed.

CREATE TABLE quality_infant_facts (
    infant_id TEXT PRIMARY KEY NOT NULL,
    hospital_id TEXT NOT NULL,
    birth_at TIMESTAMP NOT NULL,
    merged_into TEXT,
    status TEXT NOT NULL,
    status_changed_at TIMESTAMP,
    -- Blood spot: first and last acceptable (or not yet judged) card, last unsatisfactory card.
    dbs_ok_first TIMESTAMP,
    dbs_ok_last TIMESTAMP,
    dbs_bad_last TIMESTAMP,
    -- Hearing: an initial or rescreen test; a referred initial test; first rescreen, first diagnosis.
    hear_screened INTEGER NOT NULL,
    hear_initial_refer INTEGER NOT NULL,
    hear_rescreen_at TIMESTAMP,
    hear_diagnostic_at TIMESTAMP,
    cchd_screened INTEGER NOT NULL,
    -- Latest decision and latest refusal per programme.
    dbs_decided_at TIMESTAMP,
    dbs_refused_at TIMESTAMP,
    hear_decided_at TIMESTAMP,
    hear_refused_at TIMESTAMP,
    cchd_decided_at TIMESTAMP,
    cchd_refused_at TIMESTAMP,
    -- Screen-positive follow-up cases (positive, repeat or refer) per programme.
    positive_dbs INTEGER NOT NULL,
    positive_hear INTEGER NOT NULL,
    positive_cchd INTEGER NOT NULL,
    hear_refer_case INTEGER NOT NULL
);
CREATE INDEX quality_infant_facts_birth ON quality_infant_facts (birth_at);
CREATE INDEX quality_infant_facts_hospital ON quality_infant_facts (hospital_id, birth_at);

CREATE TABLE quality_card_facts (
    card_id TEXT PRIMARY KEY NOT NULL,
    infant_id TEXT NOT NULL,
    -- The infant's birth hospital, birth and merge, as the cohort is chosen by them.
    hospital_id TEXT NOT NULL,
    birth_at TIMESTAMP NOT NULL,
    merged_into TEXT,
    collected_at TIMESTAMP NOT NULL,
    received_at TIMESTAMP,
    quality TEXT,
    first_card INTEGER NOT NULL,
    -- First interpretation that reports results.
    reported_at TIMESTAMP
);
CREATE INDEX quality_card_facts_infant ON quality_card_facts (infant_id);
CREATE INDEX quality_card_facts_birth ON quality_card_facts (birth_at);
CREATE INDEX quality_card_facts_hospital ON quality_card_facts (hospital_id, birth_at);
