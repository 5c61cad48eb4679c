//! The server's login sessions (`sesame_login_sessions`): a browser signed
//! in at the provider, under the hash of its cookie, so that any instance
//! sharing the database can serve it.

use sesame_core::UnixTime;
use sesame_op::store::StoreResult;
use sesame_op_sqlx::{Arg, Cell, Col};

use super::Accounts;

/// A browser's login at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSession {
    /// The user's subject.
    pub subject: String,
    /// The provider session id (`sid`).
    pub sid: String,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// When the session lapses.
    pub expires_at: UnixTime,
    /// How the user authenticated (RFC 8176 `amr` values, e.g. `pwd`,
    /// `otp`, `mfa`).
    pub amr: Vec<String>,
}

impl Accounts {
    /// Sets the `auth_time` of the login session `key` (a session that
    /// replaces one of the same sign-in keeps its time).
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn set_login_session_auth_time(
        &self,
        key: &str,
        auth_time: UnixTime,
    ) -> StoreResult<()> {
        self.store
            .exec(
                "UPDATE sesame_login_sessions SET auth_time = $2 WHERE token_key = $1",
                &[Arg::Text(key), Arg::Int(auth_time)],
            )
            .await?;
        Ok(())
    }

    /// Ends every login session of `subject` (sign out everywhere);
    /// returns how many.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn end_login_sessions_of(&self, subject: &str) -> StoreResult<u64> {
        self.store
            .exec(
                "DELETE FROM sesame_login_sessions WHERE subject = $1",
                &[Arg::Text(subject)],
            )
            .await
    }

    /// Records a login session under `key` (the hash of the cookie value).
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn create_login_session(&self, key: &str, session: &LoginSession) -> StoreResult<()> {
        self.store.exec(
            "INSERT INTO sesame_login_sessions (token_key, subject, sid, auth_time, expires_at, amr) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                Arg::Text(key),
                Arg::Text(&session.subject),
                Arg::Text(&session.sid),
                Arg::Int(session.auth_time),
                Arg::Int(session.expires_at),
                Arg::Text(&session.amr.join(" ")),
            ],
        )
        .await?;
        Ok(())
    }

    /// A live login session.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn find_login_session(
        &self,
        key: &str,
        now: UnixTime,
    ) -> StoreResult<Option<LoginSession>> {
        let rows = self
            .store
            .rows(
                "SELECT subject, sid, auth_time, expires_at, amr FROM sesame_login_sessions WHERE token_key = $1 AND expires_at > $2",
                &[Arg::Text(key), Arg::Int(now)],
                &[Col::Text, Col::Text, Col::Int, Col::Int, Col::Text],
            )
            .await?;
        Ok(rows.into_iter().next().map(|r| {
            let text = |i: usize| r.get(i).cloned().and_then(Cell::text).unwrap_or_default();
            LoginSession {
                subject: text(0),
                sid: text(1),
                auth_time: r.get(2).map(Cell::int).unwrap_or_default(),
                expires_at: r.get(3).map(Cell::int).unwrap_or_default(),
                amr: text(4).split_whitespace().map(str::to_owned).collect(),
            }
        }))
    }

    /// Ends a login session.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn delete_login_session(&self, key: &str) -> StoreResult<()> {
        self.store
            .exec(
                "DELETE FROM sesame_login_sessions WHERE token_key = $1",
                &[Arg::Text(key)],
            )
            .await?;
        Ok(())
    }

    /// Deletes expired login sessions.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn sweep_login_sessions(&self, now: UnixTime) -> StoreResult<u64> {
        self.store
            .exec(
                "DELETE FROM sesame_login_sessions WHERE expires_at <= $1",
                &[Arg::Int(now)],
            )
            .await
    }
}
