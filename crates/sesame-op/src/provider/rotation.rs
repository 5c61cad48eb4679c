//! The provider's signing keys: manual and scheduled staged rotation,
//! reloading, and the published JWKS.

use std::sync::Arc;

use sesame_core::JwsAlgorithm;

use super::Provider;
use crate::keys::{self, KeysError, RotatedKeys, Rotation};

impl Provider {
    /// Rotates the signing keys of `alg` in stages: a Next key published for
    /// at least `Settings::key_publish_delay` starts signing, the Active key
    /// retires (still published), a new Next key is published. Without a Next
    /// key, one is published first ([`Rotation::PublishedNext`]).
    ///
    /// It runs under the store's rotation lease, as the scheduled rotation
    /// does, so the two never interleave.
    ///
    /// # Errors
    /// [`KeysError::NextKeyTooNew`], [`KeysError::RotationInProgress`] when
    /// another instance holds the lease for over a second, or a store failure.
    pub async fn rotate_keys(&self, alg: JwsAlgorithm) -> Result<Rotation, KeysError> {
        let now = self.now();
        let s = &self.inner.settings;
        let done = keys::rotate_under_lease(
            &*self.inner.store,
            alg,
            now,
            self.key_retention(),
            s.key_publish_delay,
        )
        .await?;
        self.reload_keys().await?;
        Ok(done.rotation)
    }

    /// How long a retired key stays published: `retired_key_retention`, and
    /// never less than the longest lifetime of a token it signed.
    fn key_retention(&self) -> i64 {
        let s = &self.inner.settings;
        s.retired_key_retention
            .max(s.id_token_ttl)
            .max(s.access_token_ttl)
    }

    /// Scheduled rotation: for every configured algorithm whose Active key
    /// has signed for `interval` seconds, the staged rotation of
    /// [`Provider::rotate_keys`], done by one instance at a time under the
    /// store's lease (taken by `holder`, a name unique to this instance) and
    /// only when still due once the lease is held, so that instances calling
    /// this together rotate once. Reloads the keys (rotated here or by
    /// another instance) either way. Returns what this call rotated: nothing
    /// when nothing was due or another instance holds the lease.
    ///
    /// # Errors
    /// [`KeysError::NextKeyTooNew`] when `interval` is shorter than
    /// `Settings::key_publish_delay`, or a store failure.
    pub async fn rotate_keys_if_due(
        &self,
        interval: i64,
        holder: &str,
    ) -> Result<Vec<RotatedKeys>, KeysError> {
        let s = &self.inner.settings;
        let done = keys::rotate_if_due(
            &*self.inner.store,
            holder,
            &s.signing_algs,
            self.now(),
            (interval, self.key_retention(), s.key_publish_delay),
        )
        .await;
        self.reload_keys().await?;
        done
    }

    /// Reloads keys from the store now (they are otherwise reloaded every
    /// `key_reload_interval`).
    ///
    /// # Errors
    /// When the store fails or a stored key is unreadable.
    pub async fn reload_keys(&self) -> Result<(), KeysError> {
        let ring = keys::load(&*self.inner.store, self.now()).await?;
        self.inner.keys.replace(ring);
        Ok(())
    }

    /// The JWK Set the provider publishes at [`crate::paths::JWKS`]: the
    /// public halves of its Next, Active and Retired keys.
    pub async fn jwks_json(&self) -> String {
        self.key_ring().await.jwks_json.to_string()
    }

    pub(crate) async fn key_ring(&self) -> Arc<crate::keys::KeyRing> {
        let now = self.now();
        if self.inner.keys.is_stale(now) {
            match keys::load(&*self.inner.store, now).await {
                Ok(ring) => self.inner.keys.replace(ring),
                Err(e) => {
                    tracing::warn!(error = %e, "reloading signing keys failed; keeping the loaded set")
                }
            }
        }
        self.inner.keys.current()
    }
}
