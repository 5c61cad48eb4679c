//! The server's second sign-in factor: TOTP secrets (sealed), the last time
//! step used (one use per code, across instances), recovery codes (hashed,
//! single use) and pending logins (password checked, second step to come).

use sesame_core::UnixTime;
use sesame_op::store::StoreResult;
use sesame_op_sqlx::{Arg, Cell, Col};

use super::Accounts;

/// The associated data of a sealed TOTP secret: the row it belongs to.
fn totp_context(subject: &str) -> String {
    format!("sesame_user_totp.subject={subject}:secret")
}

impl Accounts {
    /// Enrols `subject` in TOTP with `secret` (its base32 text, sealed at
    /// rest) and the hashes of its recovery codes, replacing an earlier
    /// enrolment and its codes.
    ///
    /// # Errors
    /// When the storage or the seal fails.
    pub async fn enrol_totp(
        &self,
        subject: &str,
        secret: &str,
        recovery_code_keys: &[String],
        now: UnixTime,
    ) -> StoreResult<()> {
        let sealed = self.seal(secret, &totp_context(subject))?;
        self.remove_totp(subject).await?;
        self.store.exec(
            "INSERT INTO sesame_user_totp (subject, secret, last_step, created_at) VALUES ($1, $2, $3, $4)",
            &[
                Arg::Text(subject),
                Arg::Text(&sealed),
                Arg::Int(-1),
                Arg::Int(now),
            ],
        )
        .await?;
        for key in recovery_code_keys {
            self.store.exec(
                "INSERT INTO sesame_recovery_codes (subject, code_key, used_at) VALUES ($1, $2, NULL)",
                &[Arg::Text(subject), Arg::Text(key)],
            )
            .await?;
        }
        Ok(())
    }

    /// Removes `subject`'s TOTP enrolment and recovery codes; `false` if
    /// there was none.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn remove_totp(&self, subject: &str) -> StoreResult<bool> {
        self.store
            .exec(
                "DELETE FROM sesame_recovery_codes WHERE subject = $1",
                &[Arg::Text(subject)],
            )
            .await?;
        let removed = self
            .store
            .exec(
                "DELETE FROM sesame_user_totp WHERE subject = $1",
                &[Arg::Text(subject)],
            )
            .await?;
        Ok(removed > 0)
    }

    /// `subject`'s TOTP secret (base32), opened, if enrolled.
    ///
    /// # Errors
    /// When the storage fails or the seal does not open (another key).
    pub async fn totp_secret(&self, subject: &str) -> StoreResult<Option<String>> {
        let Some(sealed) = self
            .store
            .one_text(
                "SELECT secret FROM sesame_user_totp WHERE subject = $1",
                &[Arg::Text(subject)],
            )
            .await?
        else {
            return Ok(None);
        };
        self.open(&sealed, &totp_context(subject)).map(Some)
    }

    /// Spends time step `step` of `subject`'s TOTP: `true` only if no code
    /// of this or a later step was accepted before (a compare-and-set, so
    /// one code signs in once even when two instances check it at once).
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn spend_totp_step(&self, subject: &str, step: i64) -> StoreResult<bool> {
        let n = self
            .store
            .exec(
                "UPDATE sesame_user_totp SET last_step = $2 WHERE subject = $1 AND last_step < $2",
                &[Arg::Text(subject), Arg::Int(step)],
            )
            .await?;
        Ok(n == 1)
    }

    /// Spends the recovery code whose hash is `code_key`: `true` once.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn spend_recovery_code(
        &self,
        subject: &str,
        code_key: &str,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let n = self
            .store
            .exec(
                "UPDATE sesame_recovery_codes SET used_at = $3 WHERE subject = $1 AND code_key = $2 AND used_at IS NULL",
                &[Arg::Text(subject), Arg::Text(code_key), Arg::Int(now)],
            )
            .await?;
        Ok(n == 1)
    }

    /// How many of `subject`'s recovery codes are still unused.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn recovery_codes_left(&self, subject: &str) -> StoreResult<i64> {
        let rows = self
            .store
            .rows(
                "SELECT COUNT(*) FROM sesame_recovery_codes WHERE subject = $1 AND used_at IS NULL",
                &[Arg::Text(subject)],
                &[Col::Int],
            )
            .await?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .map(Cell::int)
            .unwrap_or_default())
    }

    /// Records a pending login under `key` (the hash of its cookie value):
    /// `subject`'s password was right, the second step is to come.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn create_pending_login(
        &self,
        key: &str,
        subject: &str,
        expires_at: UnixTime,
    ) -> StoreResult<()> {
        self.store.exec(
            "INSERT INTO sesame_pending_logins (token_key, subject, expires_at) VALUES ($1, $2, $3)",
            &[Arg::Text(key), Arg::Text(subject), Arg::Int(expires_at)],
        )
        .await?;
        Ok(())
    }

    /// The subject of a live pending login.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn find_pending_login(
        &self,
        key: &str,
        now: UnixTime,
    ) -> StoreResult<Option<String>> {
        self.store.one_text(
            "SELECT subject FROM sesame_pending_logins WHERE token_key = $1 AND expires_at > $2",
            &[Arg::Text(key), Arg::Int(now)],
        )
        .await
    }

    /// Ends a pending login (its second step succeeded, or it was given up);
    /// `true` if it was there, so that one pending login becomes at most one
    /// session.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn delete_pending_login(&self, key: &str) -> StoreResult<bool> {
        let n = self
            .store
            .exec(
                "DELETE FROM sesame_pending_logins WHERE token_key = $1",
                &[Arg::Text(key)],
            )
            .await?;
        Ok(n == 1)
    }

    /// Deletes expired pending logins.
    ///
    /// # Errors
    /// When the storage fails.
    pub async fn sweep_pending_logins(&self, now: UnixTime) -> StoreResult<u64> {
        self.store
            .exec(
                "DELETE FROM sesame_pending_logins WHERE expires_at <= $1",
                &[Arg::Int(now)],
            )
            .await
    }
}
