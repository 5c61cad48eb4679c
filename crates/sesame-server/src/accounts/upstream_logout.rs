//! Upstream logout: the upstream ID token of a login session (for the
//! `id_token_hint` of the upstream logout sent after ours), and where the
//! browser goes when the upstream is done.

use sesame_core::UnixTime;
use sesame_op::store::StoreResult;
use sesame_op_sqlx::{Arg, Cell, Col};

use super::Accounts;

fn session_context(session_key: &str) -> String {
    format!("sesame_upstream_sessions.session_key={session_key}:id_token")
}

impl Accounts {
    /// Records that the login session under `session_key` came from
    /// `upstream`, whose ID token was `id_token` (sealed at rest).
    ///
    /// # Errors
    /// When the storage or the seal fails.
    pub async fn save_upstream_session(
        &self,
        session_key: &str,
        upstream: &str,
        id_token: &str,
        expires_at: UnixTime,
    ) -> StoreResult<()> {
        let sealed = self.seal(id_token, &session_context(session_key))?;
        self.store.exec(
            "INSERT INTO sesame_upstream_sessions (session_key, upstream, id_token, expires_at) VALUES ($1, $2, $3, $4)",
            &[
                Arg::Text(session_key),
                Arg::Text(upstream),
                Arg::Text(&sealed),
                Arg::Int(expires_at),
            ],
        )
        .await?;
        Ok(())
    }

    /// Takes the upstream and its ID token of the login session under
    /// `session_key` (once).
    ///
    /// # Errors
    /// When the storage fails or the seal does not open.
    pub async fn take_upstream_session(
        &self,
        session_key: &str,
        now: UnixTime,
    ) -> StoreResult<Option<(String, String)>> {
        let rows = self
            .store
            .rows(
                "DELETE FROM sesame_upstream_sessions WHERE session_key = $1 RETURNING upstream, id_token, expires_at",
                &[Arg::Text(session_key)],
                &[Col::Text, Col::Text, Col::Int],
            )
            .await?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        if row.get(2).map(Cell::int).unwrap_or_default() <= now {
            return Ok(None);
        }
        let text = |i: usize| row.get(i).cloned().and_then(Cell::text).unwrap_or_default();
        let id_token = self.open(&text(1), &session_context(session_key))?;
        Ok(Some((text(0), id_token)))
    }

    /// Records where the browser goes after the upstream logout whose
    /// `state` hashes to `state_key`.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn save_upstream_logout(
        &self,
        state_key: &str,
        then_url: &str,
        expires_at: UnixTime,
    ) -> StoreResult<()> {
        self.store.exec(
            "INSERT INTO sesame_upstream_logouts (state_key, then_url, expires_at) VALUES ($1, $2, $3)",
            &[Arg::Text(state_key), Arg::Text(then_url), Arg::Int(expires_at)],
        )
        .await?;
        Ok(())
    }

    /// Takes where the browser goes after the upstream logout (once).
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn take_upstream_logout(
        &self,
        state_key: &str,
        now: UnixTime,
    ) -> StoreResult<Option<String>> {
        let rows = self
            .store
            .rows(
                "DELETE FROM sesame_upstream_logouts WHERE state_key = $1 RETURNING then_url, expires_at",
                &[Arg::Text(state_key)],
                &[Col::Text, Col::Int],
            )
            .await?;
        Ok(rows.into_iter().next().and_then(|row| {
            let live = row.get(1).map(Cell::int).unwrap_or_default() > now;
            row.into_iter().next().and_then(Cell::text).filter(|_| live)
        }))
    }

    /// Deletes expired upstream sessions and logouts.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn sweep_upstream_sessions(&self, now: UnixTime) -> StoreResult<u64> {
        let a = self
            .store
            .exec(
                "DELETE FROM sesame_upstream_sessions WHERE expires_at <= $1",
                &[Arg::Int(now)],
            )
            .await?;
        let b = self
            .store
            .exec(
                "DELETE FROM sesame_upstream_logouts WHERE expires_at <= $1",
                &[Arg::Int(now)],
            )
            .await?;
        Ok(a + b)
    }
}
