-- The subject of each code's and token's grant, so that a new password or a
-- removed user revokes them (S11). Rows written before this migration keep a
-- NULL here; the store then reads the subject from their JSON.

ALTER TABLE sesame_codes ADD COLUMN subject TEXT;
ALTER TABLE sesame_access_tokens ADD COLUMN subject TEXT;
ALTER TABLE sesame_refresh_tokens ADD COLUMN subject TEXT;
CREATE INDEX sesame_codes_subject ON sesame_codes (subject);
CREATE INDEX sesame_access_tokens_subject ON sesame_access_tokens (subject);
CREATE INDEX sesame_refresh_tokens_subject ON sesame_refresh_tokens (subject);
