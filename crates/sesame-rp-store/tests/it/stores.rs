//! Each real store, and the suite run against it.

use sesame_rp_store::{AnyStore, StoreError};

use crate::conformance::suite;

fn unique() -> String {
    sesame_core::random::token()
        .unwrap()
        .to_lowercase()
        .replace(['-', '_'], "")[..12]
        .to_owned()
}

fn pg_base() -> String {
    std::env::var("SESAME_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn redis_base() -> String {
    std::env::var("SESAME_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

#[tokio::test]
async fn sqlite_file_passes_the_suite() {
    let dir = std::env::temp_dir().join(format!("sesame-rp-store-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("sessions.db").display());
    suite(&url, true).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn postgres_passes_the_suite() {
    use sqlx::Connection as _;
    let base = pg_base();
    let schema = format!("sesame_rp_store_{}", unique());
    let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    suite(&url, true).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn redis_passes_the_suite() {
    let prefix = format!("sesame_rp_test_{}:", unique());
    let url = format!("{}/?key_prefix={prefix}", redis_base());
    suite(&url, false).await;
    // Nothing of the run is left behind.
    let client = redis::Client::open(redis_base()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: i64 = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn unknown_or_bad_urls_are_refused_with_what_to_use() {
    for url in ["mysql://db/app", "memory", "", "http://127.0.0.1/"] {
        match AnyStore::connect(url).await {
            Err(StoreError::Url(why)) => assert!(why.contains("sqlite://FILE"), "{url}: {why}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    assert!(matches!(
        AnyStore::connect("redis://127.0.0.1:1").await,
        Err(StoreError::Backend(_))
    ));
}

#[tokio::test]
async fn the_sweeper_deletes_expired_rows_in_the_background() {
    use sesame_rp_store::Sweep as _;
    use tower_sessions::SessionStore as _;
    use tower_sessions::cookie::time::{Duration, OffsetDateTime};
    let dir = std::env::temp_dir().join(format!("sesame-rp-store-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("sessions.db").display());
    let store = AnyStore::connect(&url).await.unwrap();
    for _ in 0..5 {
        let mut r = tower_sessions::session::Record {
            id: tower_sessions::session::Id::default(),
            data: std::collections::HashMap::new(),
            expiry_date: OffsetDateTime::now_utc() - Duration::seconds(5),
        };
        store.create(&mut r).await.unwrap();
    }
    let sweeper =
        sesame_rp_store::spawn_sweeper(store.clone(), std::time::Duration::from_millis(50));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    sweeper.abort();
    assert_eq!(
        store.sweep(10).await.unwrap(),
        0,
        "the sweeper got there first"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
