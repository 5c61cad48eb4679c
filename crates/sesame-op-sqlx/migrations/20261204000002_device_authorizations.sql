-- Device authorizations (RFC 8628): keyed by the SHA-256 of the device code
-- (sesame_op::secrets::token_key), found by that of the normalised user code
-- (unique, so two live authorizations never share a user code). `data` is the
-- JSON record; `revision` makes every update a compare-and-swap, so a device
-- code is redeemed once across every instance. Swept an hour after
-- `expires_at` (late polls are told expired_token until then).

CREATE TABLE sesame_device_authorizations (
    token_key TEXT PRIMARY KEY,
    user_code_key TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL,
    revision BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sesame_device_authorizations_expiry ON sesame_device_authorizations (expires_at);
