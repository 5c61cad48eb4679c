-- What a user carries besides the standard claims (issue 13): their groups
-- and custom claims, as one JSON object {"groups": [...], "claims": {...}}.
-- NULL for users added before it existed (no groups, no custom claims).

ALTER TABLE sesame_users ADD COLUMN attributes TEXT;
