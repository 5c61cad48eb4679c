//! The provider's keys, cached: refetched at once on the first unknown `kid`
//! (one fetch shared by concurrent misses), rate-limited only after a refetch
//! that did not find the `kid`, refreshed when old, and the last good set
//! kept on failure. While no set is cached, a failed fetch is not retried
//! for a few seconds.

use std::sync::{Arc, RwLock};

use sesame_core::{JwkSet, KeySet, UnixTime};
use tokio::sync::Mutex;

use crate::outbound::{HttpError, get_bytes};

#[derive(Debug, Default)]
struct Attempts {
    /// When a fetch was last tried (success or failure).
    last_try: Option<UnixTime>,
    /// When a refetch for an unknown `kid` last came back without it (or
    /// failed): further misses wait `min_interval` from then.
    fruitless_at: Option<UnixTime>,
    /// When the first fetch (no set cached yet) last failed: callers within
    /// [`FIRST_FETCH_BACKOFF`] of it fail at once instead of queueing one
    /// outbound fetch each behind the lock.
    first_failed_at: Option<UnixTime>,
}

/// Seconds a failed first fetch is not retried.
pub(crate) const FIRST_FETCH_BACKOFF: i64 = 5;

#[derive(Debug)]
pub(crate) struct JwksCache {
    uri: String,
    keys: RwLock<Option<(Arc<KeySet>, UnixTime)>>,
    /// Held while fetching: concurrent callers wait and share the result.
    attempts: Mutex<Attempts>,
    /// Minimum seconds between two refetches after one that did not find
    /// the unknown `kid` (and between retries of a failed refresh).
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
            Some((old, _)) => {
                let mut attempts = self.attempts.lock().await;
                match self.current() {
                    // Refreshed while this request waited.
                    Some((keys, at)) if now - at < self.max_age => return Ok(keys),
                    _ => {}
                }
                if attempts
                    .last_try
                    .is_some_and(|t| now - t < self.min_interval)
                {
                    return Ok(old);
                }
                attempts.last_try = Some(now);
                match self.fetch(http).await {
                    Ok(keys) => Ok(self.store(keys, now)),
                    Err(e) => {
                        tracing::warn!(error = %e, "JWKS refresh failed; keeping the last good key set");
                        Ok(old)
                    }
                }
            }
            None => {
                let mut attempts = self.attempts.lock().await;
                if let Some((keys, _)) = self.current() {
                    return Ok(keys);
                }
                if attempts
                    .first_failed_at
                    .is_some_and(|t| now.saturating_sub(t) < FIRST_FETCH_BACKOFF)
                {
                    return Err(HttpError::Backoff {
                        url: self.uri.clone(),
                        seconds: FIRST_FETCH_BACKOFF,
                    });
                }
                attempts.last_try = Some(now);
                match self.fetch(http).await {
                    Ok(keys) => {
                        attempts.first_failed_at = None;
                        Ok(self.store(keys, now))
                    }
                    Err(e) => {
                        attempts.first_failed_at = Some(now);
                        Err(e)
                    }
                }
            }
        }
    }

    /// Refetches after `kid` was not found in `checked`. The first miss after
    /// any fetch refetches at once; concurrent misses share one fetch (a
    /// caller that waited gets the set fetched meanwhile); after a refetch
    /// that did not bring the `kid` (or failed), misses are rate-limited to
    /// one refetch per `min_interval`. `None` when rate-limited or when the
    /// fetch failed (the last good set stays).
    pub(crate) async fn refresh_for_kid(
        &self,
        http: &reqwest::Client,
        now: UnixTime,
        checked: &Arc<KeySet>,
        kid: Option<&str>,
    ) -> Option<Arc<KeySet>> {
        let mut attempts = self.attempts.lock().await;
        if let Some((current, _)) = self.current()
            && !Arc::ptr_eq(&current, checked)
        {
            // Another request refetched while this one waited: share it.
            return Some(current);
        }
        if attempts
            .fruitless_at
            .is_some_and(|t| now - t < self.min_interval)
        {
            tracing::debug!(uri = %self.uri, "JWKS refetch rate-limited");
            return None;
        }
        attempts.last_try = Some(now);
        match self.fetch(http).await {
            Ok(keys) => {
                let found = kid.is_some_and(|k| keys.contains_kid(k));
                attempts.fruitless_at = if found { None } else { Some(now) };
                Some(self.store(keys, now))
            }
            Err(e) => {
                attempts.fruitless_at = Some(now);
                tracing::warn!(error = %e, "JWKS refetch failed; keeping the last good key set");
                None
            }
        }
    }
}
