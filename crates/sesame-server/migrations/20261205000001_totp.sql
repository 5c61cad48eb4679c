-- TOTP (RFC 6238) as a second sign-in step of the sesame server.
-- `secret` is sealed with the encryption key like client secrets; `last_step`
-- is the last time step whose code was accepted: a code is accepted only for a
-- later step (UPDATE ... WHERE last_step < step), so each code is used once,
-- across every instance. Recovery codes are kept as SHA-256 hashes (they are
-- random, 50 bits), each spent once (`used_at`). A pending login is a browser
-- whose password was right and whose second step is still to come.
-- `amr` of a login session: the methods used, space-separated (RFC 8176).

CREATE TABLE sesame_user_totp (
    subject TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    last_step BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE sesame_recovery_codes (
    subject TEXT NOT NULL,
    code_key TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (subject, code_key)
);

CREATE TABLE sesame_pending_logins (
    token_key TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sesame_pending_logins_expiry ON sesame_pending_logins (expires_at);

ALTER TABLE sesame_login_sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
