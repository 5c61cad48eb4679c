-- client_secret_jwt secrets (the one client secret the provider must keep, to
-- verify HMAC assertions) move out of the client JSON into their own column,
-- sealed with the encryption key. SQL cannot encrypt: existing rows are
-- re-sealed by the store when it connects (SqlStore::connect), and until then
-- a secret still in the JSON is read from there.

ALTER TABLE sesame_clients ADD COLUMN client_secret_sealed TEXT;
