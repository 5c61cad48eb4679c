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
    /// Another instance holds the rotation lease (a scheduled rotation is
    /// running): nothing was changed.
    #[error("another instance is rotating the keys right now; try again in a minute")]
    RotationInProgress,
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

/// The kids a rotation touched (never key material), for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotatedKeys {
    /// The algorithm.
    pub alg: JwsAlgorithm,
    /// What happened.
    pub rotation: Rotation,
    /// The key that signs from now on (`None` when only a Next key was published).
    pub signing: Option<String>,
    /// The keys that stopped signing (still published until `retain` passes).
    pub retired: Vec<String>,
    /// The new Next key, published, not yet signing.
    pub next: String,
    /// Retired keys deleted because their retention passed.
    pub deleted: Vec<String>,
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
) -> Result<RotatedKeys, KeysError> {
    let keys: Vec<StoredKey> = store
        .list_keys()
        .await?
        .into_iter()
        .filter(|k| k.alg == alg)
        .collect();
    let mut deleted = Vec::new();
    for key in keys
        .iter()
        .filter(|k| k.state == KeyState::Retired && k.state_changed_at < now - retain)
    {
        store.delete_key(&key.kid).await?;
        deleted.push(key.kid.clone());
    }
    let next = keys
        .iter()
        .filter(|k| k.state == KeyState::Next)
        .min_by_key(|k| k.state_changed_at)
        .cloned();
    let Some(mut next) = next else {
        let key = SigningKey::generate(alg)?;
        store.save_key(&stored(&key, KeyState::Next, now)?).await?;
        return Ok(RotatedKeys {
            alg,
            rotation: Rotation::PublishedNext {
                usable_at: now + publish_delay,
            },
            signing: None,
            retired: Vec::new(),
            next: key.kid().to_owned(),
            deleted,
        });
    };
    if next.state_changed_at > now - publish_delay {
        return Err(KeysError::NextKeyTooNew {
            usable_at: next.state_changed_at + publish_delay,
        });
    }
    let mut retired = Vec::new();
    for mut key in keys.into_iter().filter(|k| k.state == KeyState::Active) {
        key.state = KeyState::Retired;
        key.state_changed_at = now;
        store.save_key(&key).await?;
        retired.push(key.kid);
    }
    next.state = KeyState::Active;
    next.state_changed_at = now;
    store.save_key(&next).await?;
    let fresh = SigningKey::generate(alg)?;
    store
        .save_key(&stored(&fresh, KeyState::Next, now)?)
        .await?;
    Ok(RotatedKeys {
        alg,
        rotation: Rotation::Promoted,
        signing: Some(next.kid),
        retired,
        next: fresh.kid().to_owned(),
        deleted,
    })
}

/// The lease scheduled rotation runs under.
pub(crate) const ROTATION_LEASE: &str = "key-rotation";

/// How long the rotation lease lasts: far longer than a rotation takes, short
/// enough that a holder that died frees it soon.
pub(crate) const ROTATION_LEASE_TTL: i64 = 60;

/// The algorithms of `algs` whose Active key has signed for `interval`
/// seconds or more (or that have no Active key but a Next one to promote).
fn due(
    keys: &[StoredKey],
    algs: &[JwsAlgorithm],
    now: UnixTime,
    interval: i64,
) -> Vec<JwsAlgorithm> {
    algs.iter()
        .copied()
        .filter(|&alg| {
            let since = keys
                .iter()
                .filter(|k| k.alg == alg && k.state == KeyState::Active)
                .map(|k| k.state_changed_at)
                .max();
            since.is_none_or(|t| t.saturating_add(interval) <= now)
        })
        .collect()
}

/// Scheduled rotation: rotates every algorithm of `algs` whose Active key
/// has signed for `interval` seconds, under the store's rotation lease so
/// that of several instances one rotates, once. The check is made again
/// once the lease is held, so a rotation another instance just finished is
/// not repeated (idempotent). Nothing due, or the lease held elsewhere:
/// nothing done.
/// A manual rotation of `alg`, under the same lease as the scheduled one,
/// so that it never interleaves with another instance's rotation. The lease
/// is asked for five times, 200 ms apart.
pub(crate) async fn rotate_under_lease(
    store: &dyn Store,
    alg: JwsAlgorithm,
    now: UnixTime,
    retain: i64,
    publish_delay: i64,
) -> Result<RotatedKeys, KeysError> {
    let holder = sesame_core::random::token()
        .map(|t| format!("manual-{t}"))
        .map_err(|_| KeysError::Key(sesame_core::KeyError::Generation))?;
    let mut held = false;
    for attempt in 0..5 {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        if store
            .take_lease(ROTATION_LEASE, &holder, now, ROTATION_LEASE_TTL)
            .await?
        {
            held = true;
            break;
        }
    }
    if !held {
        return Err(KeysError::RotationInProgress);
    }
    let result = rotate(store, alg, now, retain, publish_delay).await;
    if let Err(e) = store.release_lease(ROTATION_LEASE, &holder).await {
        tracing::warn!(error = %e, "releasing the key rotation lease failed");
    }
    result
}

pub(crate) async fn rotate_if_due(
    store: &dyn Store,
    holder: &str,
    algs: &[JwsAlgorithm],
    now: UnixTime,
    (interval, retain, publish_delay): (i64, i64, i64),
) -> Result<Vec<RotatedKeys>, KeysError> {
    if interval <= 0 || due(&store.list_keys().await?, algs, now, interval).is_empty() {
        return Ok(Vec::new());
    }
    if !store
        .take_lease(ROTATION_LEASE, holder, now, ROTATION_LEASE_TTL)
        .await?
    {
        return Ok(Vec::new());
    }
    let result = async {
        let mut done = Vec::new();
        for alg in due(&store.list_keys().await?, algs, now, interval) {
            done.push(rotate(store, alg, now, retain, publish_delay).await?);
        }
        Ok(done)
    }
    .await;
    // A failed release only delays the next rotation by the lease's TTL.
    if let Err(e) = store.release_lease(ROTATION_LEASE, holder).await {
        tracing::warn!(error = %e, "releasing the key rotation lease failed");
    }
    result
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
