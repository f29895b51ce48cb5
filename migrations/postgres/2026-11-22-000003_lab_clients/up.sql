-- Laboratory REST clients: API clients get a role; lab clients belong to no hospital.
ALTER TABLE api_clients ALTER COLUMN hospital_id DROP NOT NULL;
ALTER TABLE api_clients ADD COLUMN role TEXT NOT NULL DEFAULT 'hospital_client'
    CHECK (role IN ('hospital_client','lab_client'));
ALTER TABLE api_clients ADD CONSTRAINT api_clients_role_hospital
    CHECK ((role = 'hospital_client') = (hospital_id IS NOT NULL));
