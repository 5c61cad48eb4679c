//! The server's own tables, beside the provider's in one database
//! (`sesame_server::accounts`, the rate-limit counters), on real databases:
//! SQLite files and PostgreSQL. These tests were sesame-op-sqlx's while the
//! tables were; `migrations.rs` checks that a database migrated then still
//! opens, and that a fresh one gets every table.

use sesame_op_sqlx::{EncryptionKey, SqlStore};
use sesame_server::accounts::{self, Accounts};

use crate::support::TempDir;

mod cache;
mod migrations;
mod rate_counters;
mod totp;
mod upstream;
mod users;

/// The provider's store at `url` and the server's tables over it, migrated
/// as the server migrates them (`sesame_server::store::open`); no users cache.
pub async fn open(url: &str, key: EncryptionKey) -> (SqlStore, Accounts) {
    let store = SqlStore::connect(url, key).await.unwrap();
    accounts::migrate(&store).await.unwrap();
    let accounts = Accounts::new(store.clone(), std::time::Duration::ZERO);
    (store, accounts)
}

/// [`open`] on a fresh SQLite file: the store, the tables, the directory
/// (removed on drop) and the URL.
pub async fn sqlite_file() -> (SqlStore, Accounts, TempDir, String) {
    let dir = TempDir::new();
    let url = dir.db();
    let (store, accounts) = open(&url, EncryptionKey::generate().unwrap()).await;
    (store, accounts, dir, url)
}

/// Runs SQL against the database directly, as someone with the database but
/// not the key: two text columns per row.
pub async fn raw(url: &str, sql: &str, args: &[Option<&str>]) -> Vec<(String, Option<String>)> {
    use sqlx::Connection as _;
    macro_rules! run {
        ($conn:expr) => {{
            let mut q =
                sqlx::query_as::<_, (String, Option<String>)>(sqlx::AssertSqlSafe(sql.to_owned()));
            for a in args {
                q = q.bind(*a);
            }
            q.fetch_all(&mut $conn).await.unwrap()
        }};
    }
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        run!(c)
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        run!(c)
    }
}
