-- Fewer index pages written per sign-in (issue 18): every insert of a code or
-- access token wrote one page per index.
--
-- sesame_codes_grant: no query looks codes up by grant (a revoked grant's
-- codes are refused through sesame_revoked_grants).
-- sesame_codes_sid, sesame_access_tokens_sid: the clients of a session are
-- read from sesame_session_clients, which every code and token of a session
-- writes and keeps until 30 days past that token's expiry, whatever its
-- lifetime. Refresh tokens keep their sid index: one issued before
-- sesame_session_clients existed may still be live.
DROP INDEX IF EXISTS sesame_codes_grant;
DROP INDEX IF EXISTS sesame_codes_sid;
DROP INDEX IF EXISTS sesame_access_tokens_sid;
