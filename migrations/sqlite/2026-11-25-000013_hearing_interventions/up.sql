-- Hearing intervention started for a confirmed hearing loss (hearing aids, cochlear implant,
-- early-intervention services): the last step of the 1-3-6 pathway, due by 6 months of age.
-- Counted by the quality indicator hearing_intervention_by_6m.
CREATE TABLE hearing_interventions (
    id TEXT PRIMARY KEY NOT NULL,
    infant_id TEXT NOT NULL REFERENCES infants(id),
    hospital_id TEXT NOT NULL REFERENCES hospitals(id),
    kind TEXT NOT NULL CHECK (kind IN ('hearing_aids','cochlear_implant','early_intervention','other')),
    started_at TIMESTAMP NOT NULL,
    provider TEXT,
    recorded_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX hearing_interventions_infant ON hearing_interventions (infant_id, started_at);
