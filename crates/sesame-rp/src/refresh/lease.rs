//! One refresh per session across instances: a lease in a shared store.
//!
//! Within one process, concurrent requests of a stale session share one
//! exchange (`Flights`). Several instances behind a load balancer would each
//! still send the refresh token once; with a [`RefreshLease`] the first takes
//! the lease on the token, exchanges it and leaves the outcome in the store,
//! and the others wait for that outcome instead of sending the token again
//! (the provider's reuse detection would revoke the whole grant).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::session::AuthSession;

/// A lease store shared by the app's instances (sesame-rp-store implements it
/// on SQLite, PostgreSQL and Redis). Keys are hashes of refresh tokens;
/// outcomes are the refreshed session state (tokens: keep the store private).
#[async_trait]
pub trait RefreshLease: Send + Sync + 'static {
    /// Takes the lease on `key` for `ttl_secs` unless a holder has it (or
    /// left an outcome) and has not expired; `true` when taken.
    async fn try_acquire(&self, key: &str, ttl_secs: i64) -> Result<bool, LeaseError>;
    /// Ends the holder's lease, leaving `outcome` on `key` for `ttl_secs`.
    async fn finish(&self, key: &str, outcome: &str, ttl_secs: i64) -> Result<(), LeaseError>;
    /// The outcome left on `key`, if there is one.
    async fn outcome(&self, key: &str) -> Result<Option<String>, LeaseError>;
}

/// A lease store failed.
#[derive(Debug, thiserror::Error)]
#[error("refresh lease: {0}")]
pub struct LeaseError(pub String);

/// How long a holder may take before another instance may take over.
pub(super) const LEASE_TTL: i64 = 30;
/// How long an outcome is left for instances that waited.
const OUTCOME_TTL: i64 = 30;
/// How often a waiting instance looks for the outcome.
const POLL: Duration = Duration::from_millis(100);

/// A shared lease, if the app set one.
#[derive(Clone, Default)]
pub(super) struct Lease(pub(super) Option<Arc<dyn RefreshLease>>);

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Lease(shared)"
        } else {
            "Lease(none)"
        })
    }
}

/// Runs `exchange` under the lease on `key` (one instance at a time), or
/// waits for the outcome the holder leaves. A store failure fails the
/// refresh (the local session ends) rather than risk a second exchange.
pub(super) async fn shared<F, Fut>(
    lease: &dyn RefreshLease,
    key: &str,
    exchange: F,
) -> Option<AuthSession>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Option<AuthSession>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(LEASE_TTL.unsigned_abs());
    let mut exchange = Some(exchange);
    loop {
        match lease.try_acquire(key, LEASE_TTL).await {
            Ok(true) => {
                let run = exchange.take()?;
                let updated = run().await;
                let outcome = serde_json::to_string(&updated).unwrap_or_default();
                if let Err(e) = lease.finish(key, &outcome, OUTCOME_TTL).await {
                    tracing::warn!(error = %e, "refresh outcome not shared");
                }
                return updated;
            }
            Ok(false) => match lease.outcome(key).await {
                Ok(Some(o)) => {
                    tracing::debug!("refresh done by another instance");
                    return serde_json::from_str::<Option<AuthSession>>(&o)
                        .ok()
                        .flatten();
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "refresh lease unreadable; ending the session");
                    return None;
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "refresh lease unavailable; ending the session");
                return None;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!("refresh by another instance did not finish in time");
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}
