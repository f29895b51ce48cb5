-- Foundation: hospitals, staff users, API clients, infants, idempotency records, instance secrets.
-- Timestamps are UTC, stored as TIMESTAMP text (YYYY-MM-DD HH:MM:SS.ffffff); ids are UUID text.

CREATE TABLE hospitals (
    id TEXT PRIMARY KEY NOT NULL,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    district TEXT,
    contact_emails TEXT NOT NULL DEFAULT '[]',
    active BOOLEAN NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin','coordinator','clinician','viewer','hospital_staff')),
    hospital_id TEXT REFERENCES hospitals(id),
    active BOOLEAN NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP,
    CHECK ((role = 'hospital_staff') = (hospital_id IS NOT NULL))
);

CREATE TABLE api_clients (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    hospital_id TEXT NOT NULL REFERENCES hospitals(id),
    secret_hash TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT 1,
    secret_rotated_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE infants (
    id TEXT PRIMARY KEY NOT NULL,
    hospital_id TEXT NOT NULL REFERENCES hospitals(id),
    mrn TEXT NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN ('male','female','undetermined')),
    birth_at TIMESTAMP NOT NULL,
    birth_utc_offset_minutes INTEGER NOT NULL,
    gestational_age_weeks INTEGER NOT NULL CHECK (gestational_age_weeks BETWEEN 20 AND 45),
    gestational_age_days INTEGER NOT NULL CHECK (gestational_age_days BETWEEN 0 AND 6),
    birth_weight_g INTEGER NOT NULL CHECK (birth_weight_g BETWEEN 200 AND 7000),
    plurality INTEGER NOT NULL CHECK (plurality BETWEEN 1 AND 8),
    birth_order INTEGER NOT NULL CHECK (birth_order BETWEEN 1 AND plurality),
    nicu_admitted BOOLEAN NOT NULL,
    mother_name TEXT NOT NULL,
    mother_phones TEXT NOT NULL DEFAULT '[]',
    mother_id_type TEXT CHECK (mother_id_type IN ('resident_id','passport','other')),
    mother_id_hash TEXT,
    mother_id_masked TEXT,
    address TEXT,
    status TEXT NOT NULL CHECK (status IN ('active','deceased','transferred')),
    status_changed_at TIMESTAMP,
    status_note TEXT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (hospital_id, mrn)
);
CREATE INDEX infants_mother_id_hash ON infants (mother_id_hash, birth_at);
CREATE INDEX infants_hospital_birth ON infants (hospital_id, birth_at);

CREATE TABLE idempotency_keys (
    principal TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response_status INTEGER,
    response_body TEXT,
    response_location TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (principal, idem_key)
);
-- Expired keys are purged by age.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE instance_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
