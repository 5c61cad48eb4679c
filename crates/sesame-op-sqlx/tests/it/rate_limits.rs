//! Rate-limit counters (sesame_rate_limits): fixed windows, blocks, one
//! read for several keys, shared by two stores on one database, swept once
//! both window and block are over.

use sesame_op_sqlx::{EncryptionKey, RateCounter, SqlStore};

use crate::support::*;

async fn exercise(url: &str) {
    let key = EncryptionKey::generate().unwrap();
    let a = SqlStore::connect(url, key.clone()).await.unwrap();
    let b = SqlStore::connect(url, key).await.unwrap();
    let now = 1_000_000;
    assert_eq!(
        a.rate_counters(&["k1", "k2"]).await.unwrap(),
        vec![RateCounter::default(); 2]
    );
    let c = a.rate_fail("k1", now, 60).await.unwrap();
    assert_eq!((c.count, c.window_start, c.blocked_until), (1, now, 0));
    let c = b.rate_fail("k1", now + 10, 60).await.unwrap();
    assert_eq!(
        (c.count, c.window_start),
        (2, now),
        "the other store counts on"
    );
    b.rate_block("k1", now + 100).await.unwrap();
    let read = a.rate_counters(&["k2", "k1"]).await.unwrap();
    assert_eq!(read[0], RateCounter::default());
    assert_eq!(
        read[1],
        RateCounter {
            count: 2,
            window_start: now,
            blocked_until: now + 100
        }
    );
    // A failure after the window: a new window, no block.
    let c = a.rate_fail("k1", now + 60, 60).await.unwrap();
    assert_eq!((c.count, c.window_start, c.blocked_until), (1, now + 60, 0));
    // Swept only once the window (and any block) is over.
    a.rate_fail("k2", now, 60).await.unwrap();
    a.rate_block("k2", now + 300).await.unwrap();
    assert_eq!(a.sweep_rate_limits(now + 119).await.unwrap(), 0);
    assert_eq!(a.sweep_rate_limits(now + 120).await.unwrap(), 1, "k1");
    assert_eq!(a.rate_counters(&["k2"]).await.unwrap()[0].count, 1);
    assert_eq!(a.sweep_rate_limits(now + 300).await.unwrap(), 1, "k2");
    assert_eq!(
        a.rate_counters(&["k1", "k2"]).await.unwrap(),
        vec![RateCounter::default(); 2]
    );
}

#[tokio::test]
async fn rate_counters_on_sqlite() {
    let dir = tempdir::Dir::new();
    exercise(&format!("sqlite://{}/sesame.db", dir.path())).await;
}

#[tokio::test]
async fn rate_counters_on_postgres() {
    let Some(base) = pg_url("rate_counters_on_postgres") else {
        return;
    };
    let url = fresh_schema(&base).await;
    exercise(&url).await;
    drop_schema(&base, &url).await;
}
