use std::sync::Arc;

use sesame_op::store::conformance;
use sesame_op_sqlx::{EncryptionKey, SqlStore};

use crate::support::*;

#[tokio::test]
async fn sqlite_file_conforms() {
    let (store, _dir) = sqlite_file().await;
    conformance::run(Arc::new(store)).await;
}

#[tokio::test]
async fn sqlite_memory_conforms() {
    let store = SqlStore::connect("sqlite::memory:", EncryptionKey::generate().unwrap())
        .await
        .unwrap();
    conformance::run(Arc::new(store)).await;
}

#[tokio::test]
async fn postgres_conforms() {
    let Some(base) = pg_url("postgres_conforms") else {
        return;
    };
    let url = fresh_schema(&base).await;
    let key = EncryptionKey::generate().unwrap();
    let store = SqlStore::connect(&url, key.clone()).await.unwrap();
    conformance::run(Arc::new(store.clone())).await;
    // Migrations are idempotent: connecting again applies nothing and fails nothing.
    SqlStore::connect(&url, key).await.unwrap();
    store.close().await;
    drop_schema(&base, &url).await;
}

#[tokio::test]
async fn private_keys_are_encrypted_at_rest_and_need_the_right_key() {
    let dir = tempdir::Dir::new();
    let url = format!("sqlite://{}/sesame.db", dir.path());
    let key = EncryptionKey::generate().unwrap();
    let store = SqlStore::connect(&url, key.clone()).await.unwrap();
    let signing = sesame_core::SigningKey::generate(sesame_core::JwsAlgorithm::ES256).unwrap();
    let pem = signing.to_pkcs8_pem().unwrap().to_string();
    use sesame_op::store::KeyStore;
    store
        .save_key(&sesame_op::model::StoredKey {
            kid: signing.kid().to_owned(),
            alg: signing.alg(),
            private_pem: pem.clone(),
            state: sesame_op::model::KeyState::Active,
            created_at: 1,
            state_changed_at: 1,
        })
        .await
        .unwrap();
    store.close().await;
    // The file holds no PEM.
    let bytes = std::fs::read(format!("{}/sesame.db", dir.path())).unwrap();
    let wal = std::fs::read(format!("{}/sesame.db-wal", dir.path())).unwrap_or_default();
    for b in [&bytes, &wal] {
        assert!(!String::from_utf8_lossy(b).contains("PRIVATE KEY"));
        let body = pem.lines().nth(1).unwrap();
        assert!(!String::from_utf8_lossy(b).contains(body));
    }
    // The right key reads it back; a wrong key is an error, not garbage —
    // already when the store connects.
    let again = SqlStore::connect(&url, key).await.unwrap();
    assert_eq!(again.list_keys().await.unwrap()[0].private_pem, pem);
    let err = SqlStore::connect(&url, EncryptionKey::generate().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, sesame_op_sqlx::ConnectError::WrongEncryptionKey),
        "{err}"
    );
    assert!(err.to_string().contains("encryption key"), "{err}");
}

#[tokio::test]
async fn unsupported_url_is_a_clear_error() {
    let err = SqlStore::connect("mysql://x", EncryptionKey::generate().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unsupported database URL"));
}
