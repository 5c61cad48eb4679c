//! Initial access tokens (Registration::Issued): accepted while live, by
//! every instance on the database, stored only as hashes, swept after expiry.

use sesame_op::store::{GrantStore as _, InitialAccessTokens as _};
use sesame_op_sqlx::{EncryptionKey, SqlStore};

use crate::support::*;

async fn exercise(url: &str) {
    let key = EncryptionKey::generate().unwrap();
    let a = SqlStore::connect(url, key.clone()).await.unwrap();
    let b = SqlStore::connect(url, key).await.unwrap();
    let now = 1_000_000;
    let token = a.issue_initial_access_token(60, now).await.unwrap();
    assert!(token.len() >= 43);
    assert!(
        b.accepts(&token, now).await.unwrap(),
        "another instance accepts it"
    );
    assert!(b.accepts(&token, now + 59).await.unwrap());
    assert!(!b.accepts(&token, now + 60).await.unwrap(), "expired");
    assert!(!a.accepts("not-issued", now).await.unwrap());
    assert!(!a.accepts(&token[..token.len() - 1], now).await.unwrap());
    assert!(a.issue_initial_access_token(0, now).await.is_err());
    // Swept once expired.
    assert!(a.sweep(now + 61).await.unwrap() >= 1);
    assert!(
        !a.accepts(&token, now).await.unwrap(),
        "gone after the sweep"
    );
}

#[tokio::test]
async fn initial_access_tokens_on_sqlite() {
    let dir = tempdir::Dir::new();
    exercise(&format!("sqlite://{}/sesame.db", dir.path())).await;
}

#[tokio::test]
async fn initial_access_tokens_on_postgres() {
    let Some(base) = pg_url("initial_access_tokens_on_postgres") else {
        return;
    };
    let url = fresh_schema(&base).await;
    exercise(&url).await;
    drop_schema(&base, &url).await;
}
