//! Initial access tokens for dynamic client registration, issued while the
//! provider runs ([`sesame_op::Registration::Issued`]).

use async_trait::async_trait;
use sesame_core::UnixTime;
use sesame_op::secrets::token_key;
use sesame_op::store::{InitialAccessTokens, StoreError, StoreResult};

use crate::store::{Arg, Col, SqlStore};

impl SqlStore {
    /// Issues an initial access token that registration accepts until
    /// `now + ttl` seconds. Returns the token (256 random bits); only its
    /// hash is stored, so it is shown once.
    ///
    /// # Errors
    /// A `ttl` that is not positive, the random source or the storage failing.
    pub async fn issue_initial_access_token(&self, ttl: i64, now: UnixTime) -> StoreResult<String> {
        if ttl <= 0 {
            return Err(StoreError::new("the token's lifetime must be positive"));
        }
        let token = sesame_core::random::token().map_err(StoreError::new)?;
        self.exec(
            "INSERT INTO sesame_initial_access_tokens (token_key, expires_at, created_at) \
             VALUES ($1, $2, $3)",
            &[
                Arg::Text(&token_key(&token)),
                Arg::Int(now.saturating_add(ttl)),
                Arg::Int(now),
            ],
        )
        .await?;
        Ok(token)
    }
}

#[async_trait]
impl InitialAccessTokens for SqlStore {
    async fn accepts(&self, token: &str, now: UnixTime) -> StoreResult<bool> {
        let rows = self
            .rows(
                "SELECT expires_at FROM sesame_initial_access_tokens \
                 WHERE token_key = $1 AND expires_at > $2",
                &[Arg::Text(&token_key(token)), Arg::Int(now)],
                &[Col::Int],
            )
            .await?;
        Ok(!rows.is_empty())
    }
}
