//! Rate-limit counters in the database (sesame_rate_limits, `Counters::Sql`):
//! fixed windows, blocks, one read for several keys, shared by two stores on
//! one database, swept once both window and block are over.

use std::sync::Arc;

use sesame_op_sqlx::EncryptionKey;
use sesame_server::ratelimit::{Counters, RateCounter};

use super::open;
use crate::support::{PgSchema, TempDir, pg_url};

async fn exercise(url: &str) {
    let key = EncryptionKey::generate().unwrap();
    let a = Counters::Sql(Arc::new(open(url, key.clone()).await.0));
    let b = Counters::Sql(Arc::new(open(url, key).await.0));
    let now = 1_000_000;
    assert_eq!(
        a.read(&["k1", "k2"]).await.unwrap(),
        vec![RateCounter::default(); 2]
    );
    let c = a.fail("k1", now, 60).await.unwrap();
    assert_eq!((c.count, c.window_start, c.blocked_until), (1, now, 0));
    let c = b.fail("k1", now + 10, 60).await.unwrap();
    assert_eq!(
        (c.count, c.window_start),
        (2, now),
        "the other store counts on"
    );
    b.block("k1", now, now + 100).await.unwrap();
    let read = a.read(&["k2", "k1"]).await.unwrap();
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
    let c = a.fail("k1", now + 60, 60).await.unwrap();
    assert_eq!((c.count, c.window_start, c.blocked_until), (1, now + 60, 0));
    // Swept only once the window (and any block) is over.
    a.fail("k2", now, 60).await.unwrap();
    a.block("k2", now, now + 300).await.unwrap();
    assert_eq!(a.sweep(now + 119).await.unwrap(), 0);
    assert_eq!(a.sweep(now + 120).await.unwrap(), 1, "k1");
    assert_eq!(a.read(&["k2"]).await.unwrap()[0].count, 1);
    assert_eq!(a.sweep(now + 300).await.unwrap(), 1, "k2");
    assert_eq!(
        a.read(&["k1", "k2"]).await.unwrap(),
        vec![RateCounter::default(); 2]
    );
}

#[tokio::test]
async fn rate_counters_on_sqlite() {
    let dir = TempDir::new();
    exercise(&dir.db()).await;
}

#[tokio::test]
async fn rate_counters_on_postgres() {
    let Some(base) = pg_url("rate_counters_on_postgres") else {
        return;
    };
    let schema = PgSchema::new(&base).await;
    exercise(&schema.url).await;
    schema.drop_now().await;
}
