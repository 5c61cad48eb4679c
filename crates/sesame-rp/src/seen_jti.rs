//! `SeenJti`: the DPoP proofs a resource server has accepted, so that none
//! is accepted twice (RFC 9449 §11.1).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use sesame_core::UnixTime;

/// How many proofs [`MemorySeenJti`] remembers by default.
pub const MAX_SEEN_JTIS: usize = 100_000;

/// Why a proof's `jti` could not be recorded.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SeenJtiError {
    /// The cache holds as many unexpired entries as it may: the proof is
    /// refused (never accepted unrecorded) until entries expire.
    #[error("the DPoP replay cache is full")]
    Full,
    /// The shared store failed.
    #[error("the DPoP replay store failed: {0}")]
    Store(String),
}

/// Where a resource server records the proofs it accepted: in memory
/// ([`MemorySeenJti`]) for one instance, or a store every instance shares
/// (sesame-rp-store's SQL and Redis stores implement it).
#[async_trait]
pub trait SeenJti: Send + Sync + 'static {
    /// Records `key` until `expires_at`: `Ok(true)` the first time,
    /// `Ok(false)` when it is already recorded and not expired at `now`.
    /// Must be atomic: of two concurrent calls with one key, one gets `true`.
    async fn first_use(
        &self,
        key: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool, SeenJtiError>;
}

/// [`SeenJti`] in this process's memory, bounded: expired entries are
/// dropped when it fills, and a full cache refuses new proofs.
#[derive(Debug)]
pub struct MemorySeenJti {
    capacity: usize,
    seen: Mutex<HashMap<String, UnixTime>>,
}

impl Default for MemorySeenJti {
    fn default() -> Self {
        Self::with_capacity(MAX_SEEN_JTIS)
    }
}

impl MemorySeenJti {
    /// A cache of at most `capacity` unexpired proofs.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            seen: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl SeenJti for MemorySeenJti {
    async fn first_use(
        &self,
        key: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool, SeenJtiError> {
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| SeenJtiError::Store("poisoned".into()))?;
        if seen.get(key).is_some_and(|until| *until > now) {
            return Ok(false);
        }
        if seen.len() >= self.capacity {
            seen.retain(|_, until| *until > now);
            if seen.len() >= self.capacity {
                return Err(SeenJtiError::Full);
            }
        }
        seen.insert(key.to_owned(), expires_at);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_key_is_accepted_once_until_it_expires_and_the_cache_is_bounded() {
        let seen = MemorySeenJti::with_capacity(3);
        assert!(seen.first_use("a", 100, 10).await.unwrap());
        assert!(!seen.first_use("a", 100, 50).await.unwrap());
        assert!(seen.first_use("b", 100, 10).await.unwrap());
        assert!(seen.first_use("c", 200, 10).await.unwrap());
        // Full of unexpired entries: refused, not accepted unrecorded.
        assert!(matches!(
            seen.first_use("d", 100, 20).await,
            Err(SeenJtiError::Full)
        ));
        assert_eq!(seen.seen.lock().unwrap().len(), 3);
        // Once a and b expire there is room again; a replay of c is still refused.
        assert!(seen.first_use("d", 300, 150).await.unwrap());
        assert!(!seen.first_use("c", 300, 150).await.unwrap());
        assert!(seen.first_use("a", 300, 150).await.unwrap());
        assert_eq!(seen.seen.lock().unwrap().len(), 3);
    }
}
