//! The server's cache of users (`Accounts::new`'s TTL, the store's
//! `cache_ttl`): writes through the same handle (or a clone) are seen at
//! once, writes from elsewhere (the CLI, another instance) within the TTL.

use std::time::Duration;

use sesame_op_sqlx::{EncryptionKey, SqlStore};
use sesame_server::accounts::{self, Accounts};

use crate::support::TempDir;

/// The server's handle (with a users cache of `ttl`) and the CLI's (none),
/// on one database.
async fn two_handles(ttl: Duration) -> (TempDir, Accounts, Accounts) {
    let dir = TempDir::new();
    let url = dir.db();
    let key = EncryptionKey::generate().unwrap();
    let store = SqlStore::connect(&url, key.clone()).await.unwrap();
    accounts::migrate(&store).await.unwrap();
    let server = Accounts::new(store, ttl);
    let cli = Accounts::new(SqlStore::connect(&url, key).await.unwrap(), Duration::ZERO);
    (dir, server, cli)
}

#[tokio::test]
async fn users_claims_cached_and_forgotten_on_removal() {
    let (_dir, server, cli) = two_handles(Duration::from_secs(60)).await;
    let user = cli
        .add_user(
            "ann",
            "sha256$unused",
            Some("ann@example.com"),
            Some("Ann"),
            0,
        )
        .await
        .unwrap();
    let found = server.find_user_by_subject(&user.subject).await.unwrap();
    assert_eq!(found.as_ref().map(|u| u.username.as_str()), Some("ann"));
    // Removed through the server's own store: gone at once despite the long TTL.
    assert!(server.remove_user("ann").await.unwrap());
    assert!(
        server
            .find_user_by_subject(&user.subject)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_change_elsewhere_is_seen_within_the_ttl_and_clones_share_the_cache() {
    let (_dir, server, cli) = two_handles(Duration::from_millis(300)).await;
    let user = cli.add_user("bob", "x", None, None, 0).await.unwrap();
    let clone = server.clone();
    assert!(
        clone
            .find_user_by_subject(&user.subject)
            .await
            .unwrap()
            .is_some()
    );
    // Removed by the CLI: the server serves its copy until the TTL passes…
    assert!(cli.remove_user("bob").await.unwrap());
    assert!(
        server
            .find_user_by_subject(&user.subject)
            .await
            .unwrap()
            .is_some()
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    // …and not after.
    assert!(
        server
            .find_user_by_subject(&user.subject)
            .await
            .unwrap()
            .is_none()
    );
    // Unknown subjects are not cached: a user added elsewhere is found at once.
    let carl = cli.add_user("carl", "x", None, None, 0).await.unwrap();
    assert!(
        server
            .find_user_by_subject("nobody")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        server
            .find_user_by_subject(&carl.subject)
            .await
            .unwrap()
            .is_some()
    );
}
