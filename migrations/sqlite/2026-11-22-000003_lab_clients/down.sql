DELETE FROM api_clients WHERE role = 'lab_client';
CREATE TABLE api_clients_old (
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
INSERT INTO api_clients_old SELECT id, client_id, name, hospital_id, secret_hash, active, secret_rotated_at, created_at, updated_at FROM api_clients;
DROP TABLE api_clients;
ALTER TABLE api_clients_old RENAME TO api_clients;
