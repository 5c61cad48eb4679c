//! The SQL store: opening, migrating and closing it, on SQLite or PostgreSQL
//! (its SQL path is in `db.rs`, each table group in a module of its own).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sesame_op::model::Client;
use sesame_op::store::{StoreError, StoreResult};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::cache::TtlCache;
use crate::crypt::EncryptionKey;
use crate::lite::{Durability, Lite, Target};

pub(crate) use crate::db::{Pool, bind, db, from_json, to_json};
pub(crate) use crate::sql::{Arg, Cell, Col};

/// The store's migrations, embedded. They share sqlx's bookkeeping table with
/// those of crates that keep tables beside the store's
/// ([`SqlStore::run_migrations`]), so versions it does not know are ignored.
fn migrator() -> sqlx::migrate::Migrator {
    let mut m = sqlx::migrate!("./migrations");
    m.set_ignore_missing(true);
    m
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
        let kind = match self.pool {
            Pool::Sqlite { .. } => "sqlite",
            Pool::Postgres(_) => "postgres",
        };
        f.debug_struct("SqlStore")
            .field("backend", &kind)
            .finish_non_exhaustive()
    }
}

/// How often the background checkpointer copies the SQLite WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Runs `PRAGMA wal_checkpoint(PASSIVE)` on a connection of its own every
/// [`CHECKPOINT_EVERY`] until every clone of the store is dropped. PASSIVE never
/// waits for, nor blocks, the pool's reads and writes.
fn spawn_checkpointer(options: &SqliteConnectOptions, alive: &Arc<()>) {
    use sqlx::{ConnectOptions as _, Connection as _};
    let options = options.clone();
    let alive = Arc::downgrade(alive);
    tokio::spawn(async move {
        let mut conn: Option<sqlx::SqliteConnection> = None;
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if alive.strong_count() == 0 {
                break;
            }
            if conn.is_none() {
                match options.connect().await {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        tracing::warn!(error = %e, "SQLite checkpointer cannot connect");
                        continue;
                    }
                }
            }
            if let Some(c) = conn.as_mut()
                && let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&mut *c)
                    .await
            {
                tracing::warn!(error = %e, "SQLite checkpoint failed");
                conn = None;
            }
        }
        if let Some(c) = conn {
            let _ = c.close().await;
        }
    });
}

/// `url` without its `synchronous=` parameter (ours, not sqlx's), and the
/// durability it asks for.
fn durability_of(url: &str) -> Result<(String, Durability), ConnectError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), Durability::default()));
    };
    let mut durability = Durability::default();
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("synchronous", v)) if v.eq_ignore_ascii_case("normal") => {
                durability = Durability::Normal;
            }
            Some(("synchronous", v)) if v.eq_ignore_ascii_case("full") => {
                durability = Durability::Full;
            }
            Some(("synchronous", v)) => {
                return Err(ConnectError::UnsupportedUrl(format!(
                    "synchronous={v}: use synchronous=normal or synchronous=full"
                )));
            }
            _ => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, durability))
}

/// Opens a SQLite database: sqlx's pool (one connection, which creates the
/// file in WAL mode and migrates it), the in-line writer and readers, and
/// for a file the checkpointer.
async fn open_sqlite(url: &str, alive: &Arc<()>) -> Result<Pool, ConnectError> {
    let (url, durability) = durability_of(url)?;
    let synchronous = match durability {
        Durability::Normal => SqliteSynchronous::Normal,
        Durability::Full => SqliteSynchronous::Full,
    };
    let options = SqliteConnectOptions::from_str(&url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(synchronous)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        // After a burst, give the WAL file back down to 64 MiB.
        .pragma("journal_size_limit", "67108864");
    let memory = url.contains(":memory:") || url.contains("mode=memory");
    let sqlx = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .idle_timeout(Some(Duration::from_secs(30)))
        .connect_with(options.clone())
        .await?;
    let lite = Lite::open(&Target {
        path: options.get_filename().to_path_buf(),
        memory,
        durability,
    })?;
    if !memory {
        // Checkpoints (copying the WAL into the database, with an fsync) run
        // on a connection of their own, off the writer: on the writer they
        // stalled every write behind the fsync (measured: the core 10% idle
        // under load, p99 +60%).
        spawn_checkpointer(&options, alive);
    }
    Ok(Pool::Sqlite { lite, sqlx })
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
        let pool = if url.starts_with("sqlite:") {
            open_sqlite(url, &alive).await?
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await?,
            )
        } else {
            return Err(ConnectError::UnsupportedUrl(url.to_owned()));
        };
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
        match &self.pool {
            Pool::Sqlite { sqlx, .. } => migrator.run(sqlx).await?,
            Pool::Postgres(p) => migrator.run(p).await?,
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
