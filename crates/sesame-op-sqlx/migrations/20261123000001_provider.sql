-- Sesame provider storage. Written to run unchanged on SQLite and PostgreSQL.
-- Records are JSON in `data`; the columns beside it are what queries filter on.
-- Codes and tokens are keyed by SHA-256 hashes, never by the secret itself.

CREATE TABLE sesame_clients (
    client_id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE sesame_codes (
    token_key TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    sid TEXT,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sesame_codes_grant ON sesame_codes (grant_id);
CREATE INDEX sesame_codes_sid ON sesame_codes (sid);
CREATE INDEX sesame_codes_expiry ON sesame_codes (expires_at);

CREATE TABLE sesame_access_tokens (
    token_key TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    sid TEXT,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sesame_access_tokens_grant ON sesame_access_tokens (grant_id);
CREATE INDEX sesame_access_tokens_sid ON sesame_access_tokens (sid);
CREATE INDEX sesame_access_tokens_expiry ON sesame_access_tokens (expires_at);

CREATE TABLE sesame_refresh_tokens (
    token_key TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    sid TEXT,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sesame_refresh_tokens_grant ON sesame_refresh_tokens (grant_id);
CREATE INDEX sesame_refresh_tokens_sid ON sesame_refresh_tokens (sid);
CREATE INDEX sesame_refresh_tokens_expiry ON sesame_refresh_tokens (expires_at);

CREATE TABLE sesame_revoked_grants (
    grant_id TEXT PRIMARY KEY,
    until_at BIGINT NOT NULL
);

CREATE TABLE sesame_jtis (
    token_key TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE sesame_consents (
    subject TEXT NOT NULL,
    client_id TEXT NOT NULL,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (subject, client_id)
);

CREATE TABLE sesame_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    state TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    state_changed_at BIGINT NOT NULL
);

CREATE TABLE sesame_interactions (
    token_key TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
