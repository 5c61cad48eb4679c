//! The store's SQL path: one statement at a time with `$N` placeholders,
//! on SQLite through the in-line writer and readers ([`crate::lite`]), on
//! PostgreSQL through sqlx's pool.
//!
//! Why dynamic SQL (`sqlx::AssertSqlSafe` over `&str`) rather than sqlx's
//! checked `query!`: one statement text runs on both backends, the SQLite
//! side does not go through sqlx at all, and `query!` would need a live
//! database (or a committed query cache per backend) to build. Every value is
//! bound as a parameter; the only text spliced into statements is table and
//! column names from constants in this crate.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sesame_op::store::{StoreError, StoreResult};
#[cfg(feature = "postgres")]
use sqlx::Row;
#[cfg(feature = "postgres")]
use sqlx::postgres::PgPool;
#[cfg(feature = "sqlite")]
use sqlx::sqlite::SqlitePool;

#[cfg(feature = "sqlite")]
use crate::lite::Lite;
use crate::sql::{Arg, Cell, Col};

pub(crate) fn db(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(e)
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(db)
}

pub(crate) fn from_json<T: DeserializeOwned>(value: &str) -> StoreResult<T> {
    serde_json::from_str(value).map_err(|e| StoreError::new(format!("corrupt record: {e}")))
}

/// A plain `SELECT`, which the SQLite reader pool may run.
#[cfg(feature = "sqlite")]
fn is_read(sql: &str) -> bool {
    sql.trim_start()
        .get(..7)
        .is_some_and(|w| w.eq_ignore_ascii_case("SELECT "))
}

/// The backend. Without the `sqlite` and `postgres` features it has no
/// variant, and [`crate::SqlStore::connect`] refuses every URL.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    /// SQLite in-line ([`Lite`]); sqlx's pool only migrates (and, for an
    /// in-memory database, opens it first).
    #[cfg(feature = "sqlite")]
    Sqlite { lite: Lite, sqlx: SqlitePool },
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
}

impl Pool {
    /// `"sqlite"` or `"postgres"`.
    pub(crate) fn kind(&self) -> &'static str {
        match *self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite { .. } => "sqlite",
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => "postgres",
        }
    }

    /// See [`SqlStore::close`](crate::SqlStore::close).
    pub(crate) async fn close(&self) {
        match *self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite { ref lite, ref sqlx } => {
                lite.close().await;
                sqlx.close().await;
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(ref p) => p.close().await,
        }
    }

    /// See [`SqlStore::exec`](crate::SqlStore::exec).
    pub(crate) async fn exec(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        match *self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite { ref lite, .. } => lite.exec(sql, args).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(ref p) => bind(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())), args)
                .execute(p)
                .await
                .map(|r| r.rows_affected())
                .map_err(db),
        }
    }

    /// See [`SqlStore::exec_each`](crate::SqlStore::exec_each).
    pub(crate) async fn exec_each(
        &self,
        statements: &[(&str, &[Arg<'_>])],
    ) -> StoreResult<Vec<u64>> {
        match *self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite { ref lite, .. } => lite.exec_all(statements).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => {
                let mut changed = Vec::with_capacity(statements.len());
                for (sql, args) in statements {
                    changed.push(self.exec(sql, args).await?);
                }
                Ok(changed)
            }
        }
    }

    /// See [`SqlStore::rows`](crate::SqlStore::rows).
    pub(crate) async fn rows(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        columns: &[Col],
    ) -> StoreResult<Vec<Vec<Cell>>> {
        match *self {
            #[cfg(feature = "sqlite")]
            Self::Sqlite { ref lite, .. } => lite.rows(sql, args, columns, is_read(sql)).await,
            #[cfg(feature = "postgres")]
            Self::Postgres(ref p) => pg_rows(p, sql, args, columns).await,
        }
    }
}

#[cfg(feature = "postgres")]
async fn pg_rows(
    p: &PgPool,
    sql: &str,
    args: &[Arg<'_>],
    columns: &[Col],
) -> StoreResult<Vec<Vec<Cell>>> {
    let q = bind(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())), args);
    let rows = q.fetch_all(p).await.map_err(db)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut cells = Vec::with_capacity(columns.len());
        for (i, c) in columns.iter().enumerate() {
            cells.push(match c {
                Col::Text => Cell::Text(row.try_get::<Option<String>, _>(i).map_err(db)?),
                Col::Int => Cell::Int(row.try_get::<i64, _>(i).map_err(db)?),
            });
        }
        out.push(cells);
    }
    Ok(out)
}

/// Binds `args` in order.
#[cfg(feature = "postgres")]
pub(crate) fn bind<'q, DB: sqlx::Database>(
    mut q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    args: &[Arg<'q>],
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for a in args {
        q = match *a {
            Arg::Text(s) => q.bind(s),
            Arg::OptText(s) => q.bind(s),
            Arg::Int(i) => q.bind(i),
        };
    }
    q
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is neither `sqlite:` nor `postgres://`.
    #[error("unsupported database URL {0:?}: use sqlite://FILE or postgres://…")]
    UnsupportedUrl(String),
    /// The database could not be reached or opened.
    #[error("cannot open the database: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The encryption key does not open the secrets this database holds
    /// (signing keys, the pairwise salt, client secrets): it is not the key
    /// the database was first opened with.
    #[error(
        "the encryption key does not decrypt the secrets stored in this database: \
         use the key it was first opened with"
    )]
    WrongEncryptionKey,
    /// Checking or sealing stored secrets failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
}
