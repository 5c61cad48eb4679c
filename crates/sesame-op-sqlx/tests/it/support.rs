use sesame_op_sqlx::{EncryptionKey, SqlStore};
use sqlx::Connection;

/// The PostgreSQL URL from `SESAME_TEST_DATABASE_URL`, or `None` after saying loudly that
/// the PostgreSQL test is skipped.
pub fn pg_url(test: &str) -> Option<String> {
    match std::env::var("SESAME_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "\n*** SKIPPED {test}: SESAME_TEST_DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test) ***\n"
            );
            None
        }
    }
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
