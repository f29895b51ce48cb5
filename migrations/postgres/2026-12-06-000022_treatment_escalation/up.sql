-- When the treatment-start target passed without a treatment and staff were told (once).
ALTER TABLE management_episodes ADD COLUMN treatment_escalated_at TIMESTAMP;
CREATE INDEX management_episodes_treatment_due ON management_episodes (treatment_due_at, id)
    WHERE treatment_started_at IS NULL AND treatment_escalated_at IS NULL AND state <> 'closed';
