//! Checking a username and password: rate limits, then Argon2 (bounded, off
//! the async workers), against a decoy for unknown users.

use sesame_op::secrets::verify_secret;
use sesame_op::store::StoreError;
use sesame_op_sqlx::User;

use super::LoginState;

/// What checking a username and password found.
pub(crate) enum Credentials {
    /// The password is right.
    Valid(User),
    /// A wrong password, or no such user (the same answer).
    Invalid,
    /// A rate limit refused the attempt; retry after this long.
    Limited(std::time::Duration),
}

impl LoginState {
    /// Checks a username and password, for the login form and for the
    /// password grant alike: the per-address and per-username rate limits
    /// first, then the Argon2 hash off the async workers — against a decoy
    /// hash for an unknown user, so timing does not reveal which names exist.
    pub(crate) async fn check_credentials(
        &self,
        ip: &str,
        username: &str,
        password: String,
    ) -> Result<Credentials, StoreError> {
        if let Err(retry) = self.by_ip.check(ip) {
            return Ok(Credentials::Limited(retry));
        }
        if let Err(retry) = self.by_username.check(&username.to_lowercase()) {
            return Ok(Credentials::Limited(retry));
        }
        let (user, hash) = match self.store.user_credentials(username).await? {
            Some((u, h)) => (Some(u), h),
            None => (None, self.decoy_hash.clone()),
        };
        let ok = match self.hashing.clone().acquire_owned().await {
            Ok(permit) => tokio::task::spawn_blocking(move || {
                let ok = verify_secret(&password, &hash);
                drop(permit);
                ok
            })
            .await
            .unwrap_or(false),
            Err(_) => false,
        };
        Ok(match user.filter(|_| ok) {
            Some(user) => Credentials::Valid(user),
            None => Credentials::Invalid,
        })
    }
}
