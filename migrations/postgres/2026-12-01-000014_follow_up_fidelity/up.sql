-- Results carry the laboratory's own test time (reported_at is the laboratory's report time,
-- or arrival when it sends none).
ALTER TABLE dbs_results ADD COLUMN tested_at TIMESTAMP;
-- The infant's NICU stay, recorded once and used by every hearing assessment.
ALTER TABLE infants ADD COLUMN nicu_days INTEGER;
-- The heart-screening protocol a hospital uses (the catalogue default when NULL).
ALTER TABLE hospitals ADD COLUMN cchd_protocol TEXT;
-- A device's heart-sound auscultation (AI stethoscope) sent with a heart screen.
ALTER TABLE cchd_screens ADD COLUMN auscultation_method TEXT CHECK (auscultation_method IN ('ai_heart_sound'));
ALTER TABLE cchd_screens ADD COLUMN auscultation_device_id TEXT;
ALTER TABLE cchd_screens ADD COLUMN auscultation_result TEXT CHECK (auscultation_result IN ('normal', 'suspected_murmur'));
ALTER TABLE cchd_screens ADD COLUMN auscultation_grade INTEGER;
ALTER TABLE cchd_screens ADD COLUMN auscultation_score DOUBLE PRECISION;
-- Tokens carry the version of their principal; a demotion, deactivation, password reset or
-- secret rotation bumps it, so earlier tokens stop working at once.
ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_clients ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;
-- The audit's request id is the server's own; a caller's X-Request-Id is kept beside it.
ALTER TABLE audit_log ADD COLUMN correlation_id TEXT;
-- A pending Idempotency-Key belongs to a living request: the claiming server and a lease it
-- renews while the request runs. A retry after the lease lapsed (the server died) runs again.
ALTER TABLE idempotency_keys ADD COLUMN owner TEXT;
ALTER TABLE idempotency_keys ADD COLUMN lease_until TIMESTAMP;
-- A case's earliest pending deadline (first contact while nobody was reached, then the recall),
-- kept by every case write, so the deadline worklists read an index instead of an expression.
ALTER TABLE cases ADD COLUMN next_due_at TIMESTAMP;
UPDATE cases SET next_due_at = CASE WHEN state = 'open' AND first_contact_due_at < recall_due_at
                                    THEN first_contact_due_at ELSE recall_due_at END;
CREATE INDEX cases_open_next_due ON cases (next_due_at, id) WHERE state <> 'resolved';
