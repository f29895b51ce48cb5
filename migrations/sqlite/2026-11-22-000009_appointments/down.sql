ALTER TABLE cases DROP COLUMN appointment_place;
ALTER TABLE cases DROP COLUMN appointment_at;
