-- Laboratory REST clients: API clients get a role; lab clients belong to no hospital.
-- SQLite cannot relax NOT NULL in place, so the table is rebuilt (nothing references it).
CREATE TABLE api_clients_new (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'hospital_client' CHECK (role IN ('hospital_client','lab_client')),
    hospital_id TEXT REFERENCES hospitals(id),
    secret_hash TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT 1,
    secret_rotated_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((role = 'hospital_client') = (hospital_id IS NOT NULL))
);
INSERT INTO api_clients_new (id, client_id, name, role, hospital_id, secret_hash, active, secret_rotated_at, created_at, updated_at)
    SELECT id, client_id, name, 'hospital_client', hospital_id, secret_hash, active, secret_rotated_at, created_at, updated_at
    FROM api_clients;
DROP TABLE api_clients;
ALTER TABLE api_clients_new RENAME TO api_clients;
