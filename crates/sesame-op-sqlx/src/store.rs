//! The SQL store: opening, migrating and closing it, on SQLite or PostgreSQL
//! (its SQL path is in `db.rs`, each table group in a module of its own).

use std::sync::Arc;
use std::time::Duration;

use sesame_op::model::Client;
use sesame_op::store::StoreResult;

use crate::cache::TtlCache;
use crate::crypt::EncryptionKey;

pub use crate::db::ConnectError;
#[cfg(feature = "postgres")]
pub(crate) use crate::db::bind;
pub(crate) use crate::db::{Pool, db, from_json, to_json};
pub(crate) use crate::sql::{Arg, Cell, Col};

/// The store's migrations, embedded. They share sqlx's bookkeeping table with
/// those of crates that keep tables beside the store's
/// ([`SqlStore::run_migrations`]), so versions it does not know are ignored.
fn migrator() -> sqlx::migrate::Migrator {
    let mut m = sqlx::migrate!("./migrations");
    m.set_ignore_missing(true);
    m
}

/// Provider storage in SQLite or PostgreSQL.
///
/// Many provider instances may share one PostgreSQL database: every piece of
/// state lives in it, and consuming a code or refresh token is a single
/// atomic `UPDATE … RETURNING`.
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) pool: Pool,
    pub(crate) key: EncryptionKey,
    /// Background tasks (the SQLite checkpointer) stop when the last clone is dropped.
    _alive: Arc<()>,
    pub(crate) clients: Arc<TtlCache<String, Client>>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.pool.kind())
            .finish_non_exhaustive()
    }
}

/// Opens the backend `url` names.
async fn open(url: &str, alive: &Arc<()>) -> Result<Pool, ConnectError> {
    let _ = alive;
    #[cfg(feature = "sqlite")]
    if url.starts_with("sqlite:") {
        return crate::sqlite::open(url, alive).await;
    }
    #[cfg(feature = "postgres")]
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Pool::Postgres(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(16)
                // No ping before every statement (sqlx's default): it doubled
                // the round trips of a flow. A connection that died is found by
                // the statement that uses it, and replaced.
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?,
        ));
    }
    Err(ConnectError::UnsupportedUrl(url.to_owned()))
}

impl SqlStore {
    /// Opens (creating a SQLite file if needed) and migrates the database.
    ///
    /// `url`: `sqlite://sesame.db`, `sqlite::memory:`, or `postgres://user@host/db`.
    ///
    /// # Errors
    /// An unsupported URL, an unreachable database, or a failed migration.
    pub async fn connect(url: &str, key: EncryptionKey) -> Result<Self, ConnectError> {
        let alive = Arc::new(());
        let pool = open(url, &alive).await?;
        let store = Self {
            pool,
            key,
            _alive: alive,
            clients: Arc::new(TtlCache::new(Duration::ZERO)),
        };
        store.migrate().await?;
        // A wrong key fails here, before anything is sealed with it.
        store.check_encryption_key().await?;
        store.seal_legacy_client_secrets().await?;
        Ok(store)
    }

    /// Keeps clients in memory for up to `ttl` (off by default). Every
    /// authorize, token and introspection request reads them, so this removes
    /// a read from most requests (the `sesame` server keeps users' claims the
    /// same way, with the same TTL).
    ///
    /// Changes made through this store take effect at once; changes made
    /// elsewhere (the `sesame` CLI, another instance on the same PostgreSQL
    /// database) take effect within `ttl`: a deleted client, or a client's
    /// replaced secret, may be honoured for that long. Unknown ids
    /// are never cached, so a new client works at once.
    #[must_use]
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.clients = Arc::new(TtlCache::new(ttl));
        self
    }

    /// Applies pending migrations (also done by `connect`).
    ///
    /// # Errors
    /// When a migration fails.
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        self.run_migrations(migrator()).await?;
        Ok(())
    }

    /// Applies `migrator`'s pending migrations to this store's database:
    /// for crates that keep tables of their own beside the store's (the
    /// `sesame` server). Both sets share sqlx's bookkeeping table, so each
    /// ignores the versions the other applied.
    ///
    /// # Errors
    /// When a migration fails.
    ///
    /// ```ignore
    /// store.run_migrations(sqlx::migrate!("./migrations")).await?;
    /// ```
    pub async fn run_migrations(
        &self,
        mut migrator: sqlx::migrate::Migrator,
    ) -> Result<(), ConnectError> {
        migrator.set_ignore_missing(true);
        match self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite { ref sqlx, .. } => migrator.run(sqlx).await?,
            #[cfg(feature = "postgres")]
            Pool::Postgres(ref p) => migrator.run(p).await?,
        }
        Ok(())
    }
}

impl SqlStore {
    /// Closes the database: waits for the writes queued before, then closes
    /// the connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs one statement (`$1`, `$2`… placeholders, bound from `args` in
    /// order) and returns the rows it changed. This is the store's own SQL
    /// path, open to crates that keep tables of their own in the same
    /// database (the `sesame` server's users and sign-in sessions). On SQLite
    /// every statement runs on the writer, in a transaction it may share
    /// with other writes (each under a savepoint of its own); its result is
    /// returned once that transaction committed.
    ///
    /// # Errors
    /// When the database refuses the statement.
    pub async fn exec(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        self.pool.exec(sql, args).await
    }

    /// Runs `statements` in order and returns the rows each changed. On
    /// SQLite they are one write (all or none, one trip to the writer); on
    /// PostgreSQL each runs on its own, as [`SqlStore::exec`] would.
    ///
    /// # Errors
    /// When the database refuses a statement (on PostgreSQL, those before it
    /// stay done).
    pub async fn exec_each(&self, statements: &[(&str, &[Arg<'_>])]) -> StoreResult<Vec<u64>> {
        self.pool.exec_each(statements).await
    }

    /// Runs a query and returns each row's columns, read as `columns` says.
    /// On a SQLite file a plain `SELECT` runs on a reader connection, on the
    /// calling thread; anything else (`… RETURNING`) runs on the writer.
    ///
    /// # Errors
    /// When the database refuses the statement or a column is not of its type.
    pub async fn rows(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        columns: &[Col],
    ) -> StoreResult<Vec<Vec<Cell>>> {
        self.pool.rows(sql, args, columns).await
    }

    /// The first column of the first row, as text.
    ///
    /// # Errors
    /// As [`SqlStore::rows`].
    pub async fn one_text(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Option<String>> {
        let rows = self.rows(sql, args, &[Col::Text]).await?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .and_then(Cell::text))
    }

    /// The first column of every row, as text (`NULL`s left out).
    ///
    /// # Errors
    /// As [`SqlStore::rows`].
    pub async fn texts(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<String>> {
        let rows = self.rows(sql, args, &[Col::Text]).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().and_then(Cell::text))
            .collect())
    }
}
