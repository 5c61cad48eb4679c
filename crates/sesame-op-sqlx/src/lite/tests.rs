//! The writer's queue is bounded: while the writer is busy, at most
//! [`QUEUE`] writes wait for it and further callers wait for a slot (their
//! futures hold no queue memory).

use std::time::Duration;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_queue_writes_wait_for_a_busy_writer() {
    let dir = std::env::temp_dir().join(format!("sesame-lite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lite = Lite::open(&Target {
        path: dir.join("q.db"),
        memory: false,
        durability: Durability::Normal,
    })
    .unwrap();
    // Hold the writer until released.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (started_tx, started) = oneshot::channel();
    let blocker = {
        let lite = lite.clone();
        tokio::spawn(async move {
            lite.write(move |_| {
                let _ = started_tx.send(());
                let _ = held.recv();
                Ok(())
            })
            .await
        })
    };
    started.await.unwrap();
    let mut waiting = Vec::new();
    for _ in 0..QUEUE + 50 {
        let lite = lite.clone();
        waiting.push(tokio::spawn(async move { lite.write(|_| Ok(1_u8)).await }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(lite.jobs.max_capacity(), QUEUE);
    assert_eq!(
        lite.jobs.capacity(),
        0,
        "the queue is full: the other 50 wait"
    );
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    for w in waiting {
        assert_eq!(
            w.await.unwrap().unwrap(),
            1,
            "every waiting write runs once there is room"
        );
    }
    lite.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_write_that_panics_fails_alone_and_the_writer_goes_on() {
    let dir = std::env::temp_dir().join(format!("sesame-lite-panic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lite = Lite::open(&Target {
        path: dir.join("p.db"),
        memory: false,
        durability: Durability::Normal,
    })
    .unwrap();
    lite.exec("CREATE TABLE t (k TEXT PRIMARY KEY)", &[])
        .await
        .unwrap();
    let err = lite
        .write(|c| -> rusqlite::Result<()> {
            execute(c, "INSERT INTO t (k) VALUES ($1)", &[Arg::Text("half")])?;
            panic!("a bug in a write");
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("panicked"), "{err}");
    lite.exec("INSERT INTO t (k) VALUES ($1)", &[Arg::Text("after")])
        .await
        .unwrap();
    let rows = lite
        .rows("SELECT k FROM t ORDER BY k", &[], &[Col::Text], true)
        .await
        .unwrap();
    let keys: Vec<_> = rows.into_iter().map(|r| r[0].clone().text()).collect();
    assert_eq!(
        keys,
        vec![Some("after".to_owned())],
        "the panicked write was rolled back"
    );
    lite.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
