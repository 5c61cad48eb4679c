-- The clients that took part in each provider session (S5): back-channel
-- logout reads them here, so a client is notified even after its codes and
-- tokens expired and were swept. Kept until `until_at` (swept after).

CREATE TABLE sesame_session_clients (
    sid TEXT NOT NULL,
    client_id TEXT NOT NULL,
    until_at BIGINT NOT NULL,
    PRIMARY KEY (sid, client_id)
);
CREATE INDEX sesame_session_clients_expiry ON sesame_session_clients (until_at);
