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
    /// Whether a session of `issuer` with this `sid`/`sub`, logged in at `login_at`, was ended since.
    async fn is_ended(
        &self,
        issuer: &str,
        sid: Option<&str>,
        sub: &str,
        login_at: UnixTime,
    ) -> bool;
    /// Records a logout token's `jti`; `false` if it was seen before (replay).
    async fn first_use_of_jti(&self, issuer: &str, jti: &str, expires_at: UnixTime) -> bool;
}

/// The in-memory registry (one process).
#[derive(Debug, Default)]
pub struct MemoryLogoutRegistry {
    ended: Mutex<HashMap<(String, String), UnixTime>>,
    jtis: Mutex<HashMap<(String, String), UnixTime>>,
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

    async fn is_ended(
        &self,
        issuer: &str,
        sid: Option<&str>,
        sub: &str,
        login_at: UnixTime,
    ) -> bool {
        let Ok(ended) = self.ended.lock() else {
            return true;
        };
        let by_sid = sid
            .and_then(|s| ended.get(&key(issuer, "sid", s)))
            .is_some();
        let by_sub = ended
            .get(&key(issuer, "sub", sub))
            .is_some_and(|at| *at >= login_at);
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
}
