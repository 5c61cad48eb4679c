-- Passkeys (WebAuthn) of the sesame server's users.
-- A credential row holds public data only: the credential id, the public key
-- and the other state fixed at registration (`static_state`, the encoding of
-- webauthn_rp's StaticState), and what changes at each use (`dynamic_state`:
-- the user-verified and backup flags, the sign counter). Nothing here signs a
-- user in by itself, so nothing is sealed. `user_handle` is a user's WebAuthn
-- user id: 64 random bytes (base64url), one per user, never their subject.
-- The server half of a started ceremony is not stored here: it travels sealed
-- in a short-lived cookie, and its challenge is spent once through the
-- provider's JWT-id table (so nothing an outsider starts is held here).

CREATE TABLE sesame_webauthn_users (
    subject TEXT PRIMARY KEY,
    user_handle TEXT NOT NULL UNIQUE
);

CREATE TABLE sesame_passkeys (
    credential_id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    name TEXT NOT NULL,
    static_state TEXT NOT NULL,
    dynamic_state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX sesame_passkeys_subject ON sesame_passkeys (subject);
