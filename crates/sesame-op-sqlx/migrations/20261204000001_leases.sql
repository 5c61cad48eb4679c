-- Leases: a named job (scheduled key rotation, `key-rotation`) that one
-- instance at a time may run. A lease is held by `holder` (an instance's
-- random name) until `expires_at` (unix seconds); another instance may take
-- it once it has expired, so a holder that died frees it within its TTL.

CREATE TABLE sesame_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
