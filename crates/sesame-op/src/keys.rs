//! The provider's signing keys and their staged rotation.
//!
//! Each algorithm has at most one `Active` key (signs), one `Next` key
//! (published, not yet signing, so relying parties' JWKS caches learn it
//! before it is used) and any number of `Retired` keys (published until the
//! tokens they signed have expired). `rotate` moves Next→Active,
//! Active→Retired and creates a new Next.

use std::sync::{Arc, RwLock};

use sesame_core::{JwkSet, JwsAlgorithm, KeySet, SigningKey, UnixTime};

use crate::model::{KeyState, StoredKey};
use crate::store::{Store, StoreError};

/// A loaded key set: signing keys by algorithm, the published JWKS, and
/// verification keys for the provider's own tokens (`id_token_hint`).
#[derive(Debug)]
pub(crate) struct KeyRing {
    pub(crate) active: Vec<Arc<SigningKey>>,
    pub(crate) jwks_json: Arc<str>,
    pub(crate) verify: KeySet,
    pub(crate) loaded_at: UnixTime,
}

/// Errors from key management.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeysError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored key could not be parsed, or a key could not be generated.
    #[error("key error: {0}")]
    Key(#[from] sesame_core::KeyError),
    /// The Next key was published too recently to sign: caches may not have it yet.
    #[error(
        "the next key was published too recently; rotate again at or after {usable_at} (unix time)"
    )]
    NextKeyTooNew {
        /// When it may be promoted.
        usable_at: UnixTime,
    },
    /// No active key for an algorithm a client needs.
    #[error("no active signing key for {0}")]
    NoActiveKey(JwsAlgorithm),
}

pub(crate) fn stored(
    key: &SigningKey,
    state: KeyState,
    now: UnixTime,
) -> Result<StoredKey, KeysError> {
    Ok(StoredKey {
        kid: key.kid().to_owned(),
        alg: key.alg(),
        private_pem: key.to_pkcs8_pem()?.to_string(),
        state,
        created_at: now,
        state_changed_at: now,
    })
}

/// Makes sure every algorithm in `algs` has an Active and a Next key.
pub(crate) async fn ensure_keys(
    store: &dyn Store,
    algs: &[JwsAlgorithm],
    now: UnixTime,
) -> Result<(), KeysError> {
    let keys = store.list_keys().await?;
    for &alg in algs {
        for state in [KeyState::Active, KeyState::Next] {
            if !keys.iter().any(|k| k.alg == alg && k.state == state) {
                let key = SigningKey::generate(alg)?;
                // Atomic: another instance may be starting on the same database (M3).
                store.add_key_if_missing(&stored(&key, state, now)?).await?;
            }
        }
    }
    Ok(())
}

/// What a rotation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rotation {
    /// The Next key now signs; the Active key retired; a new Next key is published.
    Promoted,
    /// There was no Next key: one is now published, and a rotation from
    /// `usable_at` on will make it sign.
    PublishedNext {
        /// When the new key may start signing.
        usable_at: UnixTime,
    },
}

/// Rotates the keys of `alg` in stages: a Next key published for at least
/// `publish_delay` becomes Active, the Active key retires, a new Next key is
/// published; Retired keys older than `retain` are deleted. Without a Next
/// key, one is published and nothing else changes.
pub(crate) async fn rotate(
    store: &dyn Store,
    alg: JwsAlgorithm,
    now: UnixTime,
    retain: i64,
    publish_delay: i64,
) -> Result<Rotation, KeysError> {
    let keys: Vec<StoredKey> = store
        .list_keys()
        .await?
        .into_iter()
        .filter(|k| k.alg == alg)
        .collect();
    for key in keys
        .iter()
        .filter(|k| k.state == KeyState::Retired && k.state_changed_at < now - retain)
    {
        store.delete_key(&key.kid).await?;
    }
    let next = keys
        .iter()
        .filter(|k| k.state == KeyState::Next)
        .min_by_key(|k| k.state_changed_at)
        .cloned();
    let Some(mut next) = next else {
        let key = SigningKey::generate(alg)?;
        store.save_key(&stored(&key, KeyState::Next, now)?).await?;
        return Ok(Rotation::PublishedNext {
            usable_at: now + publish_delay,
        });
    };
    if next.state_changed_at > now - publish_delay {
        return Err(KeysError::NextKeyTooNew {
            usable_at: next.state_changed_at + publish_delay,
        });
    }
    for mut key in keys.into_iter().filter(|k| k.state == KeyState::Active) {
        key.state = KeyState::Retired;
        key.state_changed_at = now;
        store.save_key(&key).await?;
    }
    next.state = KeyState::Active;
    next.state_changed_at = now;
    store.save_key(&next).await?;
    let fresh = SigningKey::generate(alg)?;
    store
        .save_key(&stored(&fresh, KeyState::Next, now)?)
        .await?;
    Ok(Rotation::Promoted)
}

/// Loads the ring from the store.
pub(crate) async fn load(store: &dyn Store, now: UnixTime) -> Result<KeyRing, KeysError> {
    let keys = store.list_keys().await?;
    let mut active = Vec::new();
    let mut published = Vec::new();
    for key in &keys {
        let signing = SigningKey::from_pkcs8_pem(key.alg, &key.private_pem)?;
        published.push(signing.public_jwk()?);
        if key.state == KeyState::Active {
            active.push(Arc::new(signing));
        }
    }
    let jwks = JwkSet { keys: published };
    let jwks_json: Arc<str> = serde_json::to_string(&jwks)
        .unwrap_or_else(|_| "{\"keys\":[]}".to_owned())
        .into();
    Ok(KeyRing {
        active,
        verify: KeySet::from_jwks(&jwks),
        jwks_json,
        loaded_at: now,
    })
}

/// The ring, shared and reloaded from the store at an interval (so that a
/// key rotated by one instance is published and used by all).
#[derive(Debug)]
pub(crate) struct Keys {
    ring: RwLock<Arc<KeyRing>>,
    pub(crate) reload_interval: i64,
}

impl Keys {
    pub(crate) fn new(ring: KeyRing, reload_interval: i64) -> Self {
        Self {
            ring: RwLock::new(Arc::new(ring)),
            reload_interval,
        }
    }

    pub(crate) fn current(&self) -> Arc<KeyRing> {
        match self.ring.read() {
            Ok(r) => Arc::clone(&r),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub(crate) fn replace(&self, ring: KeyRing) {
        match self.ring.write() {
            Ok(mut r) => *r = Arc::new(ring),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(ring),
        }
    }

    pub(crate) fn is_stale(&self, now: UnixTime) -> bool {
        now - self.current().loaded_at >= self.reload_interval
    }
}

impl KeyRing {
    pub(crate) fn signer(&self, alg: JwsAlgorithm) -> Result<Arc<SigningKey>, KeysError> {
        self.active
            .iter()
            .find(|k| k.alg() == alg)
            .cloned()
            .ok_or(KeysError::NoActiveKey(alg))
    }
}
