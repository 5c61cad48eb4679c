//! The SQLite writer: writes that arrive together share a transaction (group
//! commit), yet each succeeds or fails on its own, a multi-statement write is
//! all or nothing, nothing is reported before it is on disk, and `$N`
//! placeholders bind by number.

use std::sync::Arc;

use sesame_op_sqlx::{Arg, Col, EncryptionKey, SqlStore};

use crate::support::tempdir;

async fn open(dir: &tempdir::Dir, params: &str) -> SqlStore {
    SqlStore::connect(
        &format!("sqlite://{}/s.db{params}", dir.path()),
        EncryptionKey::from_base64(KEY).unwrap(),
    )
    .await
    .unwrap()
}

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

async fn count(store: &SqlStore, key_prefix: &str) -> i64 {
    store
        .rows(
            "SELECT count(*) FROM sesame_jtis WHERE token_key LIKE $1",
            &[Arg::Text(&format!("{key_prefix}%"))],
            &[Col::Int],
        )
        .await
        .unwrap()[0][0]
        .int()
}

#[tokio::test]
async fn concurrent_writes_fail_alone_and_the_rest_commit() {
    let dir = tempdir::Dir::new();
    let store = Arc::new(open(&dir, "").await);
    // 200 writes at once, every fourth a duplicate of a key written before:
    // the duplicates fail with the database's error, every other write commits.
    store
        .exec(
            "INSERT INTO sesame_jtis (token_key, expires_at) VALUES ($1, $2)",
            &[Arg::Text("k-dup"), Arg::Int(1)],
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let key = if i % 4 == 0 {
                "k-dup".to_owned()
            } else {
                format!("k-{i}")
            };
            store
                .exec(
                    "INSERT INTO sesame_jtis (token_key, expires_at) VALUES ($1, $2)",
                    &[Arg::Text(&key), Arg::Int(1)],
                )
                .await
        }));
    }
    let mut failed = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(n) => assert_eq!(n, 1),
            Err(e) => {
                assert!(e.to_string().contains("UNIQUE"), "{e}");
                failed += 1;
            }
        }
    }
    assert_eq!(failed, 50);
    assert_eq!(
        count(&store, "k-").await,
        151,
        "150 new rows and the first k-dup"
    );
}

#[tokio::test]
async fn a_write_of_several_statements_is_all_or_nothing() {
    let dir = tempdir::Dir::new();
    let store = open(&dir, "").await;
    let insert = "INSERT INTO sesame_jtis (token_key, expires_at) VALUES ($1, $2)";
    store
        .exec(insert, &[Arg::Text("a-taken"), Arg::Int(1)])
        .await
        .unwrap();
    // The second statement fails: the first must not stay behind.
    let err = store
        .exec_each(&[
            (insert, &[Arg::Text("a-new"), Arg::Int(1)]),
            (insert, &[Arg::Text("a-taken"), Arg::Int(1)]),
        ])
        .await;
    assert!(err.is_err());
    assert_eq!(
        count(&store, "a-new").await,
        0,
        "rolled back with the second"
    );
    let ok = store
        .exec_each(&[
            (insert, &[Arg::Text("a-one"), Arg::Int(1)]),
            (insert, &[Arg::Text("a-two"), Arg::Int(1)]),
        ])
        .await
        .unwrap();
    assert_eq!(ok, vec![1, 1]);
    assert_eq!(count(&store, "a-").await, 3);
}

#[tokio::test]
async fn what_a_write_reported_is_in_the_file_when_the_store_is_reopened() {
    let dir = tempdir::Dir::new();
    for sync in ["", "?synchronous=full"] {
        let store = open(&dir, sync).await;
        let key = format!("r-{}", sync.len());
        store
            .exec(
                "INSERT INTO sesame_jtis (token_key, expires_at) VALUES ($1, $2)",
                &[Arg::Text(&key), Arg::Int(7)],
            )
            .await
            .unwrap();
        // Dropped, not closed: the write was reported, so it is committed.
        drop(store);
        let again = open(&dir, "").await;
        assert_eq!(count(&again, &key).await, 1, "{sync}");
        again.close().await;
    }
}

#[tokio::test]
async fn synchronous_full_is_what_the_writer_runs_with() {
    let dir = tempdir::Dir::new();
    for (params, level) in [
        ("", 1),
        ("?synchronous=normal", 1),
        ("?synchronous=FULL", 2),
    ] {
        let store = open(&dir, params).await;
        // Not a SELECT: runs on the writer's connection.
        let rows = store
            .rows("PRAGMA synchronous", &[], &[Col::Int])
            .await
            .unwrap();
        assert_eq!(rows[0][0].int(), level, "{params}");
        store.close().await;
    }
    let err = SqlStore::connect(
        &format!("sqlite://{}/s.db?synchronous=off", dir.path()),
        EncryptionKey::from_base64(KEY).unwrap(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("synchronous=normal or synchronous=full"),
        "{err}"
    );
}

#[tokio::test]
async fn placeholders_bind_by_number_not_by_order_of_appearance() {
    let dir = tempdir::Dir::new();
    for url in [
        format!("sqlite://{}/s.db", dir.path()),
        "sqlite::memory:".to_owned(),
    ] {
        let store = SqlStore::connect(&url, EncryptionKey::from_base64(KEY).unwrap())
            .await
            .unwrap();
        store
            .exec(
                "INSERT INTO sesame_jtis (expires_at, token_key) VALUES ($2, $1)",
                &[Arg::Text("p-1"), Arg::Int(42)],
            )
            .await
            .unwrap();
        let rows = store
            .rows(
                "SELECT token_key, expires_at FROM sesame_jtis WHERE expires_at = $2 AND token_key = $1",
                &[Arg::Text("p-1"), Arg::Int(42)],
                &[Col::Text, Col::Int],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{url}");
        assert_eq!(rows[0][0].clone().text().as_deref(), Some("p-1"));
        assert_eq!(rows[0][1].int(), 42);
        store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_in_a_shared_transaction_takes_only_itself_back() {
    let dir = tempdir::Dir::new();
    let store = Arc::new(open(&dir, "").await);
    let insert = "INSERT INTO sesame_jtis (token_key, expires_at) VALUES ($1, $2)";
    store
        .exec(insert, &[Arg::Text("s-taken"), Arg::Int(1)])
        .await
        .unwrap();
    // Writes of two statements whose second fails, mixed with plain writes,
    // all at once: they share transactions, and each failed one must leave
    // nothing behind while the others commit.
    let mut tasks = Vec::new();
    for i in 0..300 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let first = format!("s-half-{i}");
            let plain = format!("s-ok-{i}");
            if i % 2 == 0 {
                store
                    .exec_each(&[
                        (insert, &[Arg::Text(&first), Arg::Int(1)]),
                        (insert, &[Arg::Text("s-taken"), Arg::Int(1)]),
                    ])
                    .await
                    .map(drop)
            } else {
                store
                    .exec(insert, &[Arg::Text(&plain), Arg::Int(1)])
                    .await
                    .map(drop)
            }
        }));
    }
    let mut failed = 0;
    for t in tasks {
        failed += usize::from(t.await.unwrap().is_err());
    }
    assert_eq!(failed, 150);
    assert_eq!(
        count(&store, "s-half-").await,
        0,
        "no half-done write stayed"
    );
    assert_eq!(count(&store, "s-ok-").await, 150);
}
