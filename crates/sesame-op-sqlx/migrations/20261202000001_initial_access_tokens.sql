-- Initial access tokens for dynamic client registration (RFC 7591 §3),
-- issued by `sesame clients initial-access-token`: only the SHA-256 of each
-- token (sesame_op::secrets::token_key) is kept, with its expiry. Swept after
-- `expires_at`.

CREATE TABLE sesame_initial_access_tokens (
    token_key TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX sesame_initial_access_tokens_expiry ON sesame_initial_access_tokens (expires_at);
