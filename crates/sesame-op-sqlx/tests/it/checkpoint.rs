//! SQLite checkpoints run in the background, on a connection of their own:
//! what the store writes reaches the database file (not only the WAL) without
//! any request paying for the fsync.

use std::time::Duration;

use sesame_core::{ClientId, RedirectUri};
use sesame_op::Client;
use sesame_op::store::ClientStore;
use sesame_op_sqlx::{EncryptionKey, SqlStore};
use sqlx::{ConnectOptions as _, Connection as _};

use crate::support::tempdir;

/// Rows of `sesame_clients` in the database file itself, ignoring the WAL
/// (0 while the file does not even hold the table yet).
async fn rows_in_main_file(path: &str) -> i64 {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .immutable(true)
        .read_only(true);
    let mut conn = options.connect().await.unwrap();
    let n: Option<(i64,)> = sqlx::query_as("SELECT count(*) FROM sesame_clients")
        .fetch_one(&mut conn)
        .await
        .ok();
    conn.close().await.unwrap();
    n.map_or(0, |n| n.0)
}

#[tokio::test]
async fn writes_reach_the_database_file_in_the_background() {
    let dir = tempdir::Dir::new();
    let path = format!("{}/s.db", dir.path());
    let store = SqlStore::connect(
        &format!("sqlite://{path}"),
        EncryptionKey::generate().unwrap(),
    )
    .await
    .unwrap();
    for i in 0..300 {
        let mut c = Client::new(
            ClientId::new(format!("client-{i}")),
            vec![RedirectUri::new("https://rp.example/cb").unwrap()],
            0,
        );
        c.client_name = Some("x".repeat(200));
        store.save_client(&c).await.unwrap();
    }
    // Far below the pool's own automatic checkpoint (16384 pages): only the
    // background checkpointer moves these rows into the file.
    let mut seen = 0;
    for _ in 0..100 {
        seen = rows_in_main_file(&path).await;
        if seen == 300 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        seen, 300,
        "the checkpointer copied the WAL into the database"
    );
    drop(store);
}
