//! Provider-wide secrets: the pairwise subject salt and the DPoP nonce
//! key, shared and sealed.

use base64::Engine as _;
use sesame_op_sqlx::{EncryptionKey, SqlStore};

use crate::support::*;

/// What the table holds, as someone with the database but not the key would read it.
async fn raw_secret(url: &str, name: &str) -> String {
    use sqlx::Connection as _;
    let sql = "SELECT value FROM sesame_secrets WHERE name = $1";
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql)
            .bind(name)
            .fetch_one(&mut c)
            .await
            .unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar(sql)
            .bind(name)
            .fetch_one(&mut c)
            .await
            .unwrap()
    }
}

async fn exercise(url: &str) {
    let key = EncryptionKey::generate().unwrap();
    let a = SqlStore::connect(url, key.clone()).await.unwrap();
    let b = SqlStore::connect(url, key.clone()).await.unwrap();
    let (first, second) = tokio::join!(a.pairwise_salt(), b.pairwise_salt());
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(
        first, second,
        "every instance on the database gets one salt"
    );
    // A new database gets a length-prefixed (v2) salt: the marker, then 32
    // random bytes. A salt stored by an older version is read back byte for
    // byte and stays v1, so its pairwise subjects do not change (S25).
    assert_eq!(first.hash(), sesame_op::PairwiseHash::V2);
    assert_eq!(first.as_bytes().len(), "sesame-pairwise-v2:".len() + 32);
    assert_eq!(
        sesame_op::PairwiseSalt::new(first.as_bytes().to_vec()),
        first
    );
    assert_eq!(a.pairwise_salt().await.unwrap(), first, "and keeps it");

    // Sealed at rest: the raw value is neither the bytes nor their base64.
    let raw = raw_secret(url, "pairwise_salt").await;
    let b64 = base64::engine::general_purpose::STANDARD.encode(first.as_bytes());
    assert!(
        raw.starts_with("aes256gcm:") && !raw.contains(&b64),
        "{raw}"
    );

    // The DPoP nonce key: one for every instance, 32 bytes, sealed too.
    let (ka, kb) = tokio::join!(a.dpop_nonce_key(), b.dpop_nonce_key());
    let (ka, kb) = (ka.unwrap(), kb.unwrap());
    assert_eq!(ka, kb, "every instance on the database gets one nonce key");
    assert_eq!(ka.as_bytes().len(), 32);
    assert_ne!(ka.as_bytes(), first.as_bytes());
    assert_eq!(a.dpop_nonce_key().await.unwrap(), ka, "and keeps it");
    let raw = raw_secret(url, "dpop_nonce_key").await;
    let b64 = base64::engine::general_purpose::STANDARD.encode(ka.as_bytes());
    assert!(
        raw.starts_with("aes256gcm:") && !raw.contains(&b64),
        "{raw}"
    );

    // Another key cannot read it, and says why (already when it connects).
    let e = SqlStore::connect(url, EncryptionKey::generate().unwrap())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("encryption key"), "{e}");
}

#[tokio::test]
async fn the_pairwise_salt_is_shared_and_sealed_on_sqlite() {
    let dir = tempdir::Dir::new();
    exercise(&format!("sqlite://{}/sesame.db", dir.path())).await;
}

#[tokio::test]
async fn the_pairwise_salt_is_shared_and_sealed_on_postgres() {
    let Some(base) = pg_url("the_pairwise_salt_is_shared_and_sealed_on_postgres") else {
        return;
    };
    let url = fresh_schema(&base).await;
    exercise(&url).await;
    drop_schema(&base, &url).await;
}
