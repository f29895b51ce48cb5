DELETE FROM api_clients WHERE role = 'lab_client';
ALTER TABLE api_clients DROP CONSTRAINT api_clients_role_hospital;
ALTER TABLE api_clients DROP COLUMN role;
ALTER TABLE api_clients ALTER COLUMN hospital_id SET NOT NULL;
