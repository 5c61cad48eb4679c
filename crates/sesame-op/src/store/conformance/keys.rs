//! Signing keys: states, rotation, and one winner among racing creators.

use std::sync::Arc;

use sesame_core::JwsAlgorithm;

use super::{NOW, id};
use crate::model::{KeyState, StoredKey};
use crate::store::Store;

pub(super) async fn keys(store: &dyn Store) {
    let kid = id("kid");
    let mut k = StoredKey {
        kid: kid.clone(),
        alg: JwsAlgorithm::ES256,
        private_pem: "-----BEGIN PRIVATE KEY-----\nMC4=\n-----END PRIVATE KEY-----\n".into(),
        state: KeyState::Next,
        created_at: NOW,
        state_changed_at: NOW,
    };
    store.save_key(&k).await.unwrap();
    assert!(
        store.list_keys().await.unwrap().contains(&k),
        "key round-trips"
    );
    k.state = KeyState::Active;
    k.state_changed_at = NOW + 1;
    store.save_key(&k).await.unwrap();
    let listed = store.list_keys().await.unwrap();
    assert_eq!(
        listed.iter().filter(|x| x.kid == kid).count(),
        1,
        "save replaces by kid"
    );
    assert!(listed.contains(&k));
    assert!(store.delete_key(&kid).await.unwrap());
    assert!(
        !store
            .list_keys()
            .await
            .unwrap()
            .iter()
            .any(|x| x.kid == kid)
    );
}

/// `add_key_if_missing`: of racing callers for one (alg, state), one adds.
/// HS384 because a provider never stores one, so no other key interferes.
pub(super) async fn concurrent_key_creation_has_one_winner(store: Arc<dyn Store>) {
    let key = |kid: String| StoredKey {
        kid,
        alg: JwsAlgorithm::HS384,
        private_pem: "-----BEGIN PRIVATE KEY-----\nMC4=\n-----END PRIVATE KEY-----\n".into(),
        state: KeyState::Next,
        created_at: NOW,
        state_changed_at: NOW,
    };
    let mut tasks = Vec::new();
    let kids: Vec<String> = (0..8).map(|_| id("race-kid")).collect();
    for kid in &kids {
        let (store, k) = (Arc::clone(&store), key(kid.clone()));
        tasks.push(tokio::spawn(
            async move { store.add_key_if_missing(&k).await },
        ));
    }
    let mut added = 0;
    for t in tasks {
        added += usize::from(t.await.unwrap().unwrap());
    }
    assert_eq!(added, 1, "exactly one racing add_key_if_missing wins");
    let ours = |listed: &[StoredKey]| {
        listed
            .iter()
            .filter(|k| k.alg == JwsAlgorithm::HS384 && k.state == KeyState::Next)
            .count()
    };
    assert_eq!(ours(&store.list_keys().await.unwrap()), 1);
    assert!(
        !store
            .add_key_if_missing(&key(id("late-kid")))
            .await
            .unwrap(),
        "a taken state refuses a later key"
    );
    let mut other = key(id("retired-kid"));
    other.state = KeyState::Retired;
    assert!(
        store.add_key_if_missing(&other).await.unwrap(),
        "another state of the same algorithm is free"
    );
    for kid in kids.iter().chain([&other.kid]) {
        store.delete_key(kid).await.unwrap();
    }
    assert_eq!(ours(&store.list_keys().await.unwrap()), 0);
}
