//! Scheduled key rotation on a shared database: the rotation lease, and
//! several instances checking at once rotating once per interval.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use http::request::Parts;
use sesame_core::{Issuer, JwsAlgorithm, TestClock};
use sesame_op::model::KeyState;
use sesame_op::store::KeyStore;
use sesame_op::{Authenticator, AuthnError, EndUser, LoginRequest, Provider, Settings};
use sesame_op_sqlx::{EncryptionKey, SqlStore};

use crate::support::*;

struct NoLogin;

#[async_trait]
impl Authenticator for NoLogin {
    async fn current_user(&self, _: &Parts) -> Result<Option<EndUser>, AuthnError> {
        Ok(None)
    }

    fn login_url(&self, _: &LoginRequest) -> String {
        "/login".into()
    }
}

const T0: i64 = 1_800_000_000;
const INTERVAL: i64 = 100;

/// One instance: its own pool on the database, the shared test clock.
async fn instance(url: &str, key: &EncryptionKey, clock: &TestClock) -> (Provider, SqlStore) {
    let store = SqlStore::connect(url, key.clone()).await.unwrap();
    let mut settings = Settings::default();
    settings.key_publish_delay = 10;
    let provider = Provider::builder(Issuer::new("https://op.example").unwrap())
        .with_store(Arc::new(store.clone()))
        .with_authenticator(NoLogin)
        .with_clock(Arc::new(clock.clone()))
        .with_settings(settings)
        .build()
        .await
        .unwrap();
    (provider, store)
}

/// Key count by (alg, state).
async fn states(store: &SqlStore) -> BTreeMap<(String, &'static str), usize> {
    let mut count = BTreeMap::new();
    for k in store.list_keys().await.unwrap() {
        *count
            .entry((k.alg.as_str().to_owned(), k.state.as_str()))
            .or_default() += 1;
    }
    count
}

/// Four instances check together, at several moments: exactly one rotation
/// per algorithm each time one is due, none otherwise.
async fn four_instances_rotate_once_per_interval(url: &str, key: &EncryptionKey) {
    let clock = TestClock::at(T0);
    let mut instances = Vec::new();
    for _ in 0..4 {
        instances.push(instance(url, key, &clock).await);
    }
    let check = || {
        let tasks: Vec<_> = instances
            .iter()
            .enumerate()
            .map(|(i, (p, _))| {
                let p = p.clone();
                tokio::spawn(async move {
                    p.rotate_keys_if_due(INTERVAL, &format!("instance-{i}"))
                        .await
                        .unwrap()
                })
            })
            .collect();
        async move {
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.unwrap());
            }
            all
        }
    };
    // Not due yet: nothing happens.
    clock.advance(INTERVAL - 1);
    assert!(check().await.is_empty());
    for round in 1..=3 {
        clock.set(T0 + round * INTERVAL);
        let done = check().await;
        let mut algs: Vec<JwsAlgorithm> = done.iter().map(|r| r.alg).collect();
        algs.sort_by_key(|a| a.as_str());
        assert_eq!(
            algs,
            [
                JwsAlgorithm::ES256,
                JwsAlgorithm::EdDSA,
                JwsAlgorithm::RS256
            ],
            "round {round}: one rotation per algorithm, on one instance: {done:?}"
        );
        assert!(
            done.iter()
                .all(|r| r.rotation == sesame_op::Rotation::Promoted)
        );
        // Checking again at the same moment: already done (idempotent).
        assert!(check().await.is_empty(), "round {round}");
        let count = states(&instances[0].1).await;
        for alg in ["RS256", "ES256", "EdDSA"] {
            assert_eq!(count[&(alg.to_owned(), KeyState::Active.as_str())], 1);
            assert_eq!(count[&(alg.to_owned(), KeyState::Next.as_str())], 1);
            let retired = usize::try_from(round).unwrap();
            assert_eq!(
                count[&(alg.to_owned(), KeyState::Retired.as_str())],
                retired
            );
        }
        // Every instance publishes the same keys afterwards.
        let mut jwks = Vec::new();
        for (p, _) in &instances {
            jwks.push(p.jwks_json().await);
        }
        assert!(jwks.windows(2).all(|w| w[0] == w[1]), "{jwks:?}");
    }
    for (_, s) in instances {
        s.close().await;
    }
}

/// The lease: one holder at a time, renewable by its holder, free once
/// expired or released (and only its holder releases it).
async fn lease_semantics(store: &SqlStore) {
    let lease = |h: &'static str, now: i64| store.take_lease("job", h, now, 60);
    assert!(lease("a", T0).await.unwrap());
    assert!(!lease("b", T0 + 1).await.unwrap(), "held by a");
    assert!(
        lease("a", T0 + 30).await.unwrap(),
        "renewed by a, until T0 + 90"
    );
    assert!(!lease("b", T0 + 89).await.unwrap(), "renewal counted");
    assert!(lease("b", T0 + 90).await.unwrap(), "expired: b takes it");
    store.release_lease("job", "a").await.unwrap();
    assert!(!lease("c", T0 + 91).await.unwrap(), "a released nothing");
    store.release_lease("job", "b").await.unwrap();
    assert!(lease("c", T0 + 91).await.unwrap(), "released by b");
    assert!(
        store.take_lease("other", "d", T0, 60).await.unwrap(),
        "leases are by name"
    );
}

/// Of 8 racing takers of a free lease, exactly one wins.
async fn racing_takers(url: &str, key: &EncryptionKey) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = SqlStore::connect(url, key.clone()).await.unwrap();
        tasks.push(tokio::spawn(async move {
            let won = store
                .take_lease("race", &format!("holder-{i}"), T0, 60)
                .await
                .unwrap();
            store.close().await;
            won
        }));
    }
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn scheduled_rotation_on_postgres_rotates_once_per_interval() {
    let Some(base) = pg_url("scheduled_rotation_on_postgres_rotates_once_per_interval") else {
        return;
    };
    let url = fresh_schema(&base).await;
    let key = EncryptionKey::generate().unwrap();
    four_instances_rotate_once_per_interval(&url, &key).await;
    let store = SqlStore::connect(&url, key.clone()).await.unwrap();
    lease_semantics(&store).await;
    store.close().await;
    for _ in 0..3 {
        let url = fresh_schema(&base).await;
        racing_takers(&url, &key).await;
        drop_schema(&base, &url).await;
    }
    drop_schema(&base, &url).await;
}

#[tokio::test]
async fn scheduled_rotation_on_sqlite_rotates_once_per_interval() {
    let dir = tempdir::Dir::new();
    let url = format!("sqlite://{}/sesame.db", dir.path());
    let key = EncryptionKey::generate().unwrap();
    // The file and its schema first: this test is about the rotation.
    SqlStore::connect(&url, key.clone())
        .await
        .unwrap()
        .close()
        .await;
    four_instances_rotate_once_per_interval(&url, &key).await;
    let store = SqlStore::connect(&url, key.clone()).await.unwrap();
    lease_semantics(&store).await;
    store.close().await;
    racing_takers(&url, &key).await;
}
