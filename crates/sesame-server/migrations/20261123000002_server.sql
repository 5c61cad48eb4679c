-- The sesame server's own tables: its users and its login sessions.
-- Login sessions live here (not in process memory) so that any instance
-- sharing the database can serve any browser.

CREATE TABLE sesame_users (
    username TEXT PRIMARY KEY,
    subject TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    email TEXT,
    name TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE sesame_login_sessions (
    token_key TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    sid TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sesame_login_sessions_sid ON sesame_login_sessions (sid);
CREATE INDEX sesame_login_sessions_expiry ON sesame_login_sessions (expires_at);
