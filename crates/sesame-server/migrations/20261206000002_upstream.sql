-- Signing in at the sesame server through another OpenID Provider (an
-- "upstream", `[[upstream]]` in the server's configuration).
--
-- `sesame_upstream_logins`: a login started at /upstream/{name}/login and not
-- yet back at its callback, keyed by the SHA-256 of its `state`. `browser_key`
-- is the SHA-256 of the browser cookie it is bound to; `data` is the relying
-- party's pending login (nonce, PKCE verifier, return path), sealed with the
-- encryption key; `link_subject` is the local account a signed-in user asked to
-- link (NULL: sign in or create). Taken once (DELETE ... RETURNING), swept
-- when expired.
--
-- `sesame_upstream_links`: which local account an upstream identity is,
-- keyed by (upstream issuer, upstream sub) — never by email.

CREATE TABLE sesame_upstream_logins (
    state_key TEXT PRIMARY KEY,
    browser_key TEXT NOT NULL,
    upstream TEXT NOT NULL,
    link_subject TEXT,
    data TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sesame_upstream_logins_expiry ON sesame_upstream_logins (expires_at);

CREATE TABLE sesame_upstream_links (
    issuer TEXT NOT NULL,
    upstream_subject TEXT NOT NULL,
    subject TEXT NOT NULL,
    upstream TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, upstream_subject)
);
CREATE INDEX sesame_upstream_links_subject ON sesame_upstream_links (subject);

-- `sesame_upstream_sessions`: a login session (the SHA-256 of its cookie)
-- that came from an upstream configured with `end_session = true`, and that
-- upstream's ID token (sealed), the `id_token_hint` of the upstream logout
-- sent after ours. `sesame_upstream_logouts`: where the browser goes once the
-- upstream has logged out (our end_session's own redirect), under the hash of
-- the `state` sent to the upstream; taken once.

CREATE TABLE sesame_upstream_sessions (
    session_key TEXT PRIMARY KEY,
    upstream TEXT NOT NULL,
    id_token TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sesame_upstream_sessions_expiry ON sesame_upstream_sessions (expires_at);

CREATE TABLE sesame_upstream_logouts (
    state_key TEXT PRIMARY KEY,
    then_url TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sesame_upstream_logouts_expiry ON sesame_upstream_logouts (expires_at);
