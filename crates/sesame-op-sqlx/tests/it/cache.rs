//! The in-memory cache of clients (`SqlStore::with_cache_ttl`; the server's
//! cache of users is tested in sesame-server's `tests/it/storage/cache.rs`):
//! writes through the same store are seen at once, writes from elsewhere
//! (the CLI, another instance) within the TTL, and nothing is cached by default.

use std::time::Duration;

use sesame_core::{ClientId, RedirectUri};
use sesame_op::Client;
use sesame_op::store::ClientStore;
use sesame_op_sqlx::{EncryptionKey, SqlStore};

use crate::support::tempdir;

fn client(id: &str, name: &str) -> Client {
    let mut c = Client::new(
        ClientId::new(id),
        vec![RedirectUri::new("https://rp.example/cb").unwrap()],
        0,
    );
    c.client_name = Some(name.into());
    c
}

async fn two_handles(ttl: Duration) -> (tempdir::Dir, SqlStore, SqlStore) {
    let dir = tempdir::Dir::new();
    let url = format!("sqlite://{}/s.db", dir.path());
    let key = EncryptionKey::generate().unwrap();
    let server = SqlStore::connect(&url, key.clone())
        .await
        .unwrap()
        .with_cache_ttl(ttl);
    let cli = SqlStore::connect(&url, key).await.unwrap();
    (dir, server, cli)
}

#[tokio::test]
async fn no_cache_by_default() {
    let (_dir, server, cli) = two_handles(Duration::ZERO).await;
    cli.save_client(&client("c1", "one")).await.unwrap();
    assert!(
        server
            .find_client(&ClientId::new("c1"))
            .await
            .unwrap()
            .is_some()
    );
    cli.delete_client(&ClientId::new("c1")).await.unwrap();
    assert!(
        server
            .find_client(&ClientId::new("c1"))
            .await
            .unwrap()
            .is_none(),
        "without a TTL a deletion elsewhere is seen at once"
    );
}

#[tokio::test]
async fn own_writes_at_once_others_within_the_ttl() {
    let (_dir, server, cli) = two_handles(Duration::from_millis(300)).await;
    let id = ClientId::new("c1");

    // Unknown ids are not cached: a client added elsewhere works at once.
    assert!(server.find_client(&id).await.unwrap().is_none());
    cli.save_client(&client("c1", "one")).await.unwrap();
    let seen = server.find_client(&id).await.unwrap().unwrap();
    assert_eq!(seen.client_name.as_deref(), Some("one"));

    // A write through the same store replaces the cached copy at once.
    server.save_client(&client("c1", "two")).await.unwrap();
    let seen = server.find_client(&id).await.unwrap().unwrap();
    assert_eq!(seen.client_name.as_deref(), Some("two"));

    // A deletion elsewhere is served from the cache until the TTL passes…
    cli.delete_client(&id).await.unwrap();
    assert!(server.find_client(&id).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;
    // …and not after.
    assert!(server.find_client(&id).await.unwrap().is_none());

    // A deletion through the same store is seen at once.
    server.save_client(&client("c2", "x")).await.unwrap();
    assert!(
        server
            .find_client(&ClientId::new("c2"))
            .await
            .unwrap()
            .is_some()
    );
    server.delete_client(&ClientId::new("c2")).await.unwrap();
    assert!(
        server
            .find_client(&ClientId::new("c2"))
            .await
            .unwrap()
            .is_none()
    );
}
