-- Browser sessions of the staff console: the cookie holds a 256-bit random id, the table only its
-- SHA-256. A session ends when idle for its idle period, at its absolute expiry, at logout, or when
-- its user's token version moves on (password change, demotion, hospital change, deactivation).
CREATE TABLE web_sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    token_version INTEGER NOT NULL,
    csrf_token TEXT NOT NULL,
    locale TEXT,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    idle_expires_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
