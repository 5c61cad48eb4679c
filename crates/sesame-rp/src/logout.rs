//! Back-channel logouts, remembered until the sessions they end are seen.
//!
//! Session stores cannot be searched by the provider's `sid` or `sub`, so a
//! back-channel logout is recorded here and every request checks its
//! session against it (a session that logged in before the logout ends).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use sesame_core::UnixTime;

/// Where back-channel logouts are recorded. Use a shared store when the app
/// runs more than one instance (sesame-rp-store: SQLite, PostgreSQL, Redis).
#[async_trait]
pub trait LogoutRegistry: Send + Sync + 'static {
    /// Records that the provider ended session `sid` (or every session of
    /// `sub`, when `sid` is `None`) of `issuer` at `at`.
    async fn record(&self, issuer: &str, sid: Option<&str>, sub: Option<&str>, at: UnixTime);
    /// Whether a session of `issuer` with this `sid`/`sub`, logged in at `since`, was ended since then.
    async fn is_ended(&self, issuer: &str, sid: Option<&str>, sub: &str, since: UnixTime) -> bool;
    /// Records a logout token's `jti`; `false` if it was seen before (replay).
    async fn first_use_of_jti(&self, issuer: &str, jti: &str, expires_at: UnixTime) -> bool;
    /// Records that a session of `issuer` with provider session `sid` signed
    /// in at `at`. Front-channel logouts (unauthenticated requests) are recorded
    /// by `sid` only for the `sid`s seen here, so that made-up ones cannot fill
    /// the registry. The default keeps nothing.
    async fn sid_signed_in(&self, _issuer: &str, _sid: &str, _at: UnixTime) {}
    /// Whether [`Self::sid_signed_in`] saw this `sid` (default: no, so a
    /// front-channel logout ends only the session whose cookie comes with it).
    async fn knows_sid(&self, _issuer: &str, _sid: &str) -> bool {
        false
    }
}

/// How many provider sessions the in-memory registry remembers for
/// front-channel logout; past that the older half is forgotten.
pub const MAX_KNOWN_SIDS: usize = 100_000;

/// The in-memory registry (one process).
#[derive(Debug, Default)]
pub struct MemoryLogoutRegistry {
    ended: Mutex<HashMap<(String, String), UnixTime>>,
    jtis: Mutex<HashMap<(String, String), UnixTime>>,
    sids: Mutex<HashMap<(String, String), UnixTime>>,
}

fn key(issuer: &str, kind: &str, value: &str) -> (String, String) {
    (issuer.to_owned(), format!("{kind}:{value}"))
}

#[async_trait]
impl LogoutRegistry for MemoryLogoutRegistry {
    async fn record(&self, issuer: &str, sid: Option<&str>, sub: Option<&str>, at: UnixTime) {
        let Ok(mut ended) = self.ended.lock() else {
            return;
        };
        match (sid, sub) {
            (Some(sid), _) => {
                ended.insert(key(issuer, "sid", sid), at);
            }
            (None, Some(sub)) => {
                ended.insert(key(issuer, "sub", sub), at);
            }
            (None, None) => {}
        }
    }

    async fn is_ended(&self, issuer: &str, sid: Option<&str>, sub: &str, since: UnixTime) -> bool {
        let Ok(ended) = self.ended.lock() else {
            return true;
        };
        let by_sid = sid
            .and_then(|s| ended.get(&key(issuer, "sid", s)))
            .is_some();
        let by_sub = ended
            .get(&key(issuer, "sub", sub))
            .is_some_and(|at| *at >= since);
        by_sid || by_sub
    }

    async fn first_use_of_jti(&self, issuer: &str, jti: &str, expires_at: UnixTime) -> bool {
        let Ok(mut jtis) = self.jtis.lock() else {
            return false;
        };
        // Forget what can no longer be replayed.
        if jtis.len() > 10_000 {
            let now = expires_at - 3600;
            jtis.retain(|_, exp| *exp > now);
        }
        jtis.insert((issuer.to_owned(), jti.to_owned()), expires_at)
            .is_none()
    }

    async fn sid_signed_in(&self, issuer: &str, sid: &str, at: UnixTime) {
        let Ok(mut sids) = self.sids.lock() else {
            return;
        };
        if sids.len() >= MAX_KNOWN_SIDS {
            let mut times: Vec<UnixTime> = sids.values().copied().collect();
            times.sort_unstable();
            let cutoff = times.get(times.len() / 2).copied().unwrap_or_default();
            sids.retain(|_, t| *t > cutoff);
        }
        sids.insert((issuer.to_owned(), sid.to_owned()), at);
    }

    async fn knows_sid(&self, issuer: &str, sid: &str) -> bool {
        self.sids
            .lock()
            .is_ok_and(|s| s.contains_key(&(issuer.to_owned(), sid.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn known_sids_are_bounded() {
        let r = MemoryLogoutRegistry::default();
        assert!(!r.knows_sid("i", "s0").await);
        for n in 0..(MAX_KNOWN_SIDS as i64 + 10) {
            r.sid_signed_in("i", &format!("s{n}"), n).await;
        }
        let len = r.sids.lock().unwrap().len();
        assert!(len <= MAX_KNOWN_SIDS, "{len}");
        assert!(!r.knows_sid("i", "s0").await, "the oldest are forgotten");
        assert!(r.knows_sid("i", &format!("s{}", MAX_KNOWN_SIDS + 9)).await);
        assert!(
            !r.knows_sid("other", &format!("s{}", MAX_KNOWN_SIDS + 9))
                .await
        );
    }
}
