-- Provider-wide secrets kept with the data they protect (the salt of pairwise
-- subject identifiers), sealed with the encryption key like signing keys, so
-- that every instance sharing the database derives the same identifiers and a
-- backup of the database keeps them.

CREATE TABLE sesame_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
