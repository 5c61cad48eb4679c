use sesame_op_sqlx::{EncryptionKey, SqlStore};
use sqlx::Connection;

/// The PostgreSQL URL for a test: `SESAME_TEST_DATABASE_URL`, else a local server answering
/// on 127.0.0.1:5432 (`postgres://postgres@127.0.0.1:5432/test`). Without either the test
/// FAILS with instructions, so a missing database never passes as "ok"; set
/// `SESAME_TEST_SKIP_MISSING=1` to skip it instead (said on stderr).
pub fn pg_url(test: &str) -> Option<String> {
    if let Ok(url) = std::env::var("SESAME_TEST_DATABASE_URL")
        && !url.is_empty()
    {
        return Some(url);
    }
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], 5432));
    if std::net::TcpStream::connect_timeout(&local, std::time::Duration::from_millis(500)).is_ok() {
        return Some("postgres://postgres@127.0.0.1:5432/test".to_owned());
    }
    missing(
        test,
        "PostgreSQL: set SESAME_TEST_DATABASE_URL=postgres://USER@HOST:PORT/DB or run one on 127.0.0.1:5432",
    )
}

/// A part the test needs is missing: fail, or skip loudly with `SESAME_TEST_SKIP_MISSING=1`.
pub fn missing<T>(test: &str, what: &str) -> Option<T> {
    if std::env::var("SESAME_TEST_SKIP_MISSING").as_deref() == Ok("1") {
        eprintln!("\n*** SKIPPED {test}: needs {what} (SESAME_TEST_SKIP_MISSING=1) ***\n");
        return None;
    }
    panic!(
        "{test} needs {what}; or set SESAME_TEST_SKIP_MISSING=1 to skip the tests whose parts are missing"
    );
}

/// A fresh schema in the test database, so runs never see each other's rows.
/// Returns a URL whose connections use it.
pub async fn fresh_schema(base: &str) -> String {
    let schema = format!(
        "sesame_t_{}",
        sesame_core::random::token()
            .unwrap()
            .to_lowercase()
            .replace(['-', '_'], "")[..16]
            .to_owned()
    );
    let mut conn = sqlx::PgConnection::connect(base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// Drops a schema made by [`fresh_schema`] (best effort).
pub async fn drop_schema(base: &str, url: &str) {
    let Some(schema) = url.rsplit("search_path%3D").next() else {
        return;
    };
    if let Ok(mut conn) = sqlx::PgConnection::connect(base).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .execute(&mut conn)
        .await;
        let _ = conn.close().await;
    }
}

pub async fn sqlite_file() -> (SqlStore, tempdir::Dir) {
    let dir = tempdir::Dir::new();
    let url = format!("sqlite://{}/sesame.db", dir.path());
    (
        SqlStore::connect(&url, EncryptionKey::generate().unwrap())
            .await
            .unwrap(),
        dir,
    )
}

pub mod tempdir {
    /// A temporary directory removed on drop.
    pub struct Dir(std::path::PathBuf);

    impl Dir {
        pub fn new() -> Self {
            let p = std::env::temp_dir().join(format!(
                "sesame-test-{}",
                sesame_core::random::token().unwrap()
            ));
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }

        pub fn path(&self) -> String {
            self.0.display().to_string()
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
