-- Screening data: catalogue versions, blood-spot cards, results and interpretations, hearing and
-- heart screens, consent or refusal per programme.

CREATE TABLE catalogue_versions (
    version TEXT PRIMARY KEY NOT NULL,
    jurisdiction TEXT NOT NULL,
    effective_from DATE NOT NULL,
    content TEXT NOT NULL,
    published_by TEXT NOT NULL,
    published_at TIMESTAMP NOT NULL
);

CREATE TABLE dbs_cards (
    id TEXT PRIMARY KEY NOT NULL,
    infant_id TEXT NOT NULL REFERENCES infants(id),
    hospital_id TEXT NOT NULL REFERENCES hospitals(id),
    barcode TEXT NOT NULL UNIQUE,
    collected_at TIMESTAMP NOT NULL,
    feeding TEXT NOT NULL CHECK (feeding IN ('breast','formula','mixed','parenteral','none')),
    transfusion BOOLEAN NOT NULL,
    tpn BOOLEAN NOT NULL,
    antibiotics BOOLEAN NOT NULL,
    collector TEXT NOT NULL,
    repeat_of TEXT REFERENCES dbs_cards(id),
    received_at TIMESTAMP,
    quality TEXT,
    quality_recorded_at TIMESTAMP,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX dbs_cards_infant ON dbs_cards (infant_id, collected_at);

CREATE TABLE dbs_results (
    card_id TEXT NOT NULL REFERENCES dbs_cards(id),
    analyte TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    unit TEXT NOT NULL,
    reported_at TIMESTAMP NOT NULL,
    PRIMARY KEY (card_id, analyte)
);

CREATE TABLE dbs_interpretations (
    id TEXT PRIMARY KEY NOT NULL,
    card_id TEXT NOT NULL REFERENCES dbs_cards(id),
    catalogue_version TEXT NOT NULL REFERENCES catalogue_versions(version),
    outcome TEXT NOT NULL,
    tier TEXT,
    detail TEXT NOT NULL,
    interpreted_at TIMESTAMP NOT NULL
);
CREATE INDEX dbs_interpretations_card ON dbs_interpretations (card_id, interpreted_at);

CREATE TABLE hearing_screens (
    id TEXT PRIMARY KEY NOT NULL,
    infant_id TEXT NOT NULL REFERENCES infants(id),
    hospital_id TEXT NOT NULL REFERENCES hospitals(id),
    stage TEXT NOT NULL CHECK (stage IN ('initial','rescreen','diagnostic')),
    method TEXT NOT NULL CHECK (method IN ('OAE','AABR','DIAGNOSTIC')),
    left_ear TEXT NOT NULL CHECK (left_ear IN ('pass','refer')),
    right_ear TEXT NOT NULL CHECK (right_ear IN ('pass','refer')),
    tested_at TIMESTAMP NOT NULL,
    nicu_days INTEGER,
    risk_factors TEXT NOT NULL DEFAULT '[]',
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX hearing_screens_infant ON hearing_screens (infant_id, tested_at);

CREATE TABLE cchd_screens (
    id TEXT PRIMARY KEY NOT NULL,
    infant_id TEXT NOT NULL REFERENCES infants(id),
    hospital_id TEXT NOT NULL REFERENCES hospitals(id),
    protocol TEXT NOT NULL,
    measured_at TIMESTAMP NOT NULL,
    right_hand_spo2 DOUBLE PRECISION NOT NULL CHECK (right_hand_spo2 BETWEEN 0 AND 100),
    foot_spo2 DOUBLE PRECISION NOT NULL CHECK (foot_spo2 BETWEEN 0 AND 100),
    murmur_grade INTEGER CHECK (murmur_grade BETWEEN 0 AND 6),
    clinical_signs TEXT NOT NULL DEFAULT '[]',
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX cchd_screens_infant ON cchd_screens (infant_id, measured_at);

CREATE TABLE screening_consents (
    id TEXT PRIMARY KEY NOT NULL,
    infant_id TEXT NOT NULL REFERENCES infants(id),
    hospital_id TEXT NOT NULL REFERENCES hospitals(id),
    programme TEXT NOT NULL CHECK (programme IN ('DBS','HEAR','CCHD')),
    decision TEXT NOT NULL CHECK (decision IN ('consent','refusal')),
    guardian_name TEXT NOT NULL,
    signed_at TIMESTAMP NOT NULL,
    recorded_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX screening_consents_infant ON screening_consents (infant_id, programme, signed_at);
