//! Checking a username and password: the failure limits, the bounded queue,
//! then Argon2 (bounded, off the async workers), against a decoy for
//! unknown users.
//!
//! Only failures count, in three counters (shared by instances, in the
//! database or Redis; keys hashed, usernames lower-cased):
//! - (username, address): after `login_backoff_after` failures in 15
//!   minutes, the n-th failure makes the next attempt wait
//!   2^(n - login_backoff_after) seconds, at most `login_backoff_max_seconds`;
//! - username, across addresses: past `login_per_username_per_minute`
//!   failures, addresses that have failed for it are refused until the
//!   minute ends — an address with no failure for it still gets its answer,
//!   so strangers cannot lock a user out;
//! - address, across usernames: past `login_per_ip_per_minute` failures,
//!   the address is refused until the minute ends (credential stuffing).
//!
//! A refused attempt is answered before Argon2 runs and counts nothing. A
//! correct password never counts and resets nothing. If the counters cannot
//! be read or written, the error is logged and the attempt goes on (fail open).

use std::sync::atomic::Ordering;
use std::time::Duration;

use sesame_op::secrets::verify_secret;
use sesame_op::store::StoreError;

use super::LoginState;
use crate::accounts::User;
use crate::ratelimit::{blocked, limit_key};

/// What checking a username and password found.
pub(crate) enum Credentials {
    /// The password is right.
    Valid(User),
    /// A wrong password, or no such user (the same answer).
    Invalid,
    /// A rate limit refused the attempt; retry after this long.
    Limited(Duration),
    /// Too many sign-ins are waiting for a password hash: try again soon.
    Busy,
}

/// The window of the (username, address) counter, in seconds.
const PAIR_WINDOW: i64 = 15 * 60;
/// The window of the username and address counters, in seconds.
const MINUTE: i64 = 60;

/// A place in the queue for a password hash; leaving it frees it.
struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

struct Keys {
    pair: String,
    user: String,
    ip: String,
}

impl LoginState {
    /// Checks a username and password, for the login form and for the
    /// password grant alike (one budget): the failure limits first, then a
    /// place in the bounded queue, then the Argon2 hash off the async
    /// workers — against a decoy hash for an unknown user, so timing does
    /// not reveal which names exist.
    pub(crate) async fn check_credentials(
        &self,
        ip: &str,
        username: &str,
        password: String,
    ) -> Result<Credentials, StoreError> {
        let name = username.to_lowercase();
        let keys = Keys {
            pair: limit_key("login-pair", &format!("{}\n{ip}", limit_key("", &name))),
            user: limit_key("login-user", &name),
            ip: limit_key("login-ip", ip),
        };
        let now = self.clock.now();
        let counters = &self.limits.counters;
        match counters.read(&[&keys.pair, &keys.user, &keys.ip]).await {
            Ok(c) => {
                let (pair, user, addr) = (c[0], c[1], c[2]);
                let pair_failed = pair.count > 0 && pair.window_start > now - PAIR_WINDOW;
                let refused = blocked(&addr, now)
                    .or_else(|| blocked(&pair, now))
                    .or_else(|| blocked(&user, now).filter(|_| pair_failed));
                if let Some(retry) = refused {
                    return Ok(Credentials::Limited(retry));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "rate-limit counters unavailable: sign-in not limited");
            }
        }
        let waiting = self.waiting.fetch_add(1, Ordering::AcqRel);
        let place = Waiting(&self.waiting);
        if waiting >= self.limits.queue {
            return Ok(Credentials::Busy);
        }
        let (user, hash) = match self.accounts.user_credentials(username).await? {
            Some((u, h)) => (Some(u), h),
            None => (None, self.decoy_hash.clone()),
        };
        let ok = match self.hashing.clone().acquire_owned().await {
            Ok(permit) => {
                drop(place);
                tokio::task::spawn_blocking(move || {
                    let ok = verify_secret(&password, &hash);
                    drop(permit);
                    ok
                })
                .await
                .unwrap_or(false)
            }
            Err(_) => false,
        };
        Ok(match user.filter(|_| ok) {
            Some(user) => Credentials::Valid(user),
            None => {
                if let Err(e) = self.count_failure(&keys, now).await {
                    tracing::error!(error = %e, "rate-limit counters unavailable: failure not counted");
                }
                Credentials::Invalid
            }
        })
    }

    async fn count_failure(&self, keys: &Keys, now: i64) -> Result<(), StoreError> {
        let l = &self.limits;
        let pair = l.counters.fail(&keys.pair, now, PAIR_WINDOW).await?;
        let after = i64::from(l.backoff_after.max(1));
        if pair.count >= after {
            let exp = u32::try_from(pair.count - after)
                .unwrap_or(u32::MAX)
                .min(62);
            let wait = 1_u64
                .checked_shl(exp)
                .unwrap_or(u64::MAX)
                .min(l.backoff_max.max(1));
            let until = now.saturating_add(i64::try_from(wait).unwrap_or(i64::MAX));
            l.counters.block(&keys.pair, now, until).await?;
        }
        l.counters
            .fail_with_limit(&keys.user, now, MINUTE, l.per_username)
            .await?;
        l.counters
            .fail_with_limit(&keys.ip, now, MINUTE, l.per_ip)
            .await
    }
}
