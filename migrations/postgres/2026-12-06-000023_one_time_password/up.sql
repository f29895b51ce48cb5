-- A password an administrator issued: it signs in once (while the user has never signed in
-- since it was set), and only to choose the user's own.
ALTER TABLE users ADD COLUMN password_one_time BOOLEAN NOT NULL DEFAULT FALSE;
