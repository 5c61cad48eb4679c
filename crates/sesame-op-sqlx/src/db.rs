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
use sqlx::Row;

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

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
fn is_read(sql: &str) -> bool {
    sql.trim_start()
        .get(..7)
        .is_some_and(|w| w.eq_ignore_ascii_case("SELECT "))
}

#[derive(Debug, Clone)]
pub(crate) enum Pool {
    /// SQLite in-line ([`Lite`]); sqlx's pool only migrates (and, for an
    /// in-memory database, opens it first).
    Sqlite {
        lite: Lite,
        sqlx: SqlitePool,
    },
    Postgres(PgPool),
}

impl Pool {
    /// See [`SqlStore::close`](crate::SqlStore::close).
    pub(crate) async fn close(&self) {
        match self {
            Self::Sqlite { lite, sqlx } => {
                lite.close().await;
                sqlx.close().await;
            }
            Self::Postgres(p) => p.close().await,
        }
    }

    /// See [`SqlStore::exec`](crate::SqlStore::exec).
    pub(crate) async fn exec(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        match self {
            Self::Sqlite { lite, .. } => lite.exec(sql, args).await,
            Self::Postgres(p) => bind(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())), args)
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
        if let Self::Sqlite { lite, .. } = self {
            return lite.exec_all(statements).await;
        }
        let mut changed = Vec::with_capacity(statements.len());
        for (sql, args) in statements {
            changed.push(self.exec(sql, args).await?);
        }
        Ok(changed)
    }

    /// See [`SqlStore::rows`](crate::SqlStore::rows).
    pub(crate) async fn rows(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        columns: &[Col],
    ) -> StoreResult<Vec<Vec<Cell>>> {
        let p = match self {
            Self::Sqlite { lite, .. } => return lite.rows(sql, args, columns, is_read(sql)).await,
            Self::Postgres(p) => p,
        };
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
}

/// Binds `args` in order.
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
