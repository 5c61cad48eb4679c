//! M3: instances starting together on an empty database create exactly one
//! Active and one Next key per algorithm.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use http::request::Parts;
use sesame_core::Issuer;
use sesame_op::model::KeyState;
use sesame_op::store::KeyStore;
use sesame_op::{Authenticator, AuthnError, EndUser, LoginRequest, Provider};
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

/// Opens the store and builds a provider on it (which creates the missing keys).
async fn start(url: String, key: EncryptionKey) -> SqlStore {
    let store = SqlStore::connect(&url, key).await.unwrap();
    Provider::builder(Issuer::new("https://op.example").unwrap())
        .with_store(Arc::new(store.clone()))
        .with_authenticator(NoLogin)
        .build()
        .await
        .unwrap();
    store
}

/// Starts `n` instances at once and checks the keys they leave behind.
async fn race(url: &str, key: &EncryptionKey, n: usize) {
    let mut tasks = Vec::new();
    for _ in 0..n {
        tasks.push(tokio::spawn(start(url.to_owned(), key.clone())));
    }
    let mut stores = Vec::new();
    for t in tasks {
        stores.push(t.await.unwrap());
    }
    let mut count: BTreeMap<(String, String), usize> = BTreeMap::new();
    for k in stores[0].list_keys().await.unwrap() {
        *count
            .entry((k.alg.as_str().to_owned(), k.state.as_str().to_owned()))
            .or_default() += 1;
    }
    // The defaults: RS256, ES256, EdDSA, each with one Active and one Next key.
    assert_eq!(count.len(), 6, "{count:?}");
    assert!(count.values().all(|&c| c == 1), "{count:?}");
    assert!(count.keys().any(|(_, s)| s == KeyState::Active.as_str()));
    for s in stores {
        s.close().await;
    }
}

#[tokio::test]
async fn instances_starting_together_on_postgres_create_one_key_per_state() {
    let Some(base) = pg_url("instances_starting_together_on_postgres_create_one_key_per_state")
    else {
        return;
    };
    for _ in 0..3 {
        let url = fresh_schema(&base).await;
        race(&url, &EncryptionKey::generate().unwrap(), 4).await;
        drop_schema(&base, &url).await;
    }
}

#[tokio::test]
async fn instances_starting_together_on_sqlite_create_one_key_per_state() {
    for _ in 0..3 {
        let dir = tempdir::Dir::new();
        let url = format!("sqlite://{}/sesame.db", dir.path());
        let key = EncryptionKey::generate().unwrap();
        // The file and its schema first: this test is about the keys.
        SqlStore::connect(&url, key.clone())
            .await
            .unwrap()
            .close()
            .await;
        race(&url, &key, 4).await;
    }
}
