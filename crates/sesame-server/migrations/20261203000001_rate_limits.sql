-- Rate-limit counters of sesame-server, shared by every instance on this
-- database and kept across restarts. `limit_key` is a kind and the SHA-256
-- (base64url) of what is counted (a username, an address), never the raw
-- value. `count` failures since `window_start`; attempts are refused until
-- `blocked_until`. Swept after `expires_at`.

CREATE TABLE sesame_rate_limits (
    limit_key TEXT PRIMARY KEY,
    count BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    blocked_until BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sesame_rate_limits_expiry ON sesame_rate_limits (expires_at);
