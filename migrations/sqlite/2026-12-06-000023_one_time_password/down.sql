ALTER TABLE users DROP COLUMN password_one_time;
