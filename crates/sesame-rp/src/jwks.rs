//! The provider's keys, cached: refetched on an unknown `kid` at most once
//! per interval, refreshed when old, and the last good set kept on failure.

use std::sync::{Arc, RwLock};

use sesame_core::{JwkSet, KeySet, UnixTime};
use tokio::sync::Mutex;

use crate::outbound::{HttpError, get_bytes};

#[derive(Debug, Default)]
struct Attempts {
    last: Option<UnixTime>,
}

#[derive(Debug)]
pub(crate) struct JwksCache {
    uri: String,
    keys: RwLock<Option<(Arc<KeySet>, UnixTime)>>,
    attempts: Mutex<Attempts>,
    /// Minimum seconds between two fetches triggered by unknown kids.
    pub(crate) min_interval: i64,
    /// Age after which the set is refetched on next use.
    pub(crate) max_age: i64,
}

impl JwksCache {
    pub(crate) fn new(uri: String, static_keys: Option<KeySet>) -> Self {
        let keys = static_keys.map(|k| (Arc::new(k), i64::MAX / 2));
        Self {
            uri,
            keys: RwLock::new(keys),
            attempts: Mutex::new(Attempts::default()),
            min_interval: 60,
            max_age: 3600,
        }
    }

    fn current(&self) -> Option<(Arc<KeySet>, UnixTime)> {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn store(&self, keys: KeySet, now: UnixTime) -> Arc<KeySet> {
        let keys = Arc::new(keys);
        match self.keys.write() {
            Ok(mut k) => *k = Some((Arc::clone(&keys), now)),
            Err(p) => *p.into_inner() = Some((Arc::clone(&keys), now)),
        }
        keys
    }

    async fn fetch(&self, http: &reqwest::Client) -> Result<KeySet, HttpError> {
        let bytes = get_bytes(http, &self.uri).await?;
        let jwks = JwkSet::from_json(&bytes).map_err(|e| HttpError::Json {
            url: self.uri.clone(),
            message: e.to_string(),
        })?;
        tracing::debug!(uri = %self.uri, keys = jwks.keys.len(), "JWKS fetched");
        Ok(KeySet::from_jwks(&jwks))
    }

    /// The keys, fetching them the first time (an error then is returned),
    /// and refreshing an old set (keeping it if the refresh fails).
    pub(crate) async fn keys(
        &self,
        http: &reqwest::Client,
        now: UnixTime,
    ) -> Result<Arc<KeySet>, HttpError> {
        match self.current() {
            Some((keys, at)) if now - at < self.max_age => Ok(keys),
            Some((keys, _)) => Ok(self.refresh(http, now).await.unwrap_or(keys)),
            None => {
                let mut attempts = self.attempts.lock().await;
                if let Some((keys, _)) = self.current() {
                    return Ok(keys);
                }
                attempts.last = Some(now);
                let keys = self.fetch(http).await?;
                Ok(self.store(keys, now))
            }
        }
    }

    /// Refetches after an unknown kid, at most once per `min_interval`.
    /// `None` when rate-limited or when the fetch failed (the last good set stays).
    pub(crate) async fn refresh(
        &self,
        http: &reqwest::Client,
        now: UnixTime,
    ) -> Option<Arc<KeySet>> {
        let mut attempts = self.attempts.lock().await;
        if attempts.last.is_some_and(|t| now - t < self.min_interval) {
            tracing::debug!(uri = %self.uri, "JWKS refetch rate-limited");
            return None;
        }
        attempts.last = Some(now);
        match self.fetch(http).await {
            Ok(keys) => Some(self.store(keys, now)),
            Err(e) => {
                tracing::warn!(error = %e, "JWKS refetch failed; keeping the last good key set");
                None
            }
        }
    }
}
