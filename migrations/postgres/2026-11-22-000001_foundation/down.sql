DROP TABLE instance_secrets;
DROP TABLE idempotency_keys;
DROP TABLE infants;
DROP TABLE api_clients;
DROP TABLE users;
DROP TABLE hospitals;
