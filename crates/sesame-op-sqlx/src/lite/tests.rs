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
