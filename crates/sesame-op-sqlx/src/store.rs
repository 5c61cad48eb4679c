//! The SQL store: one implementation, run on SQLite or PostgreSQL.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sesame_core::{ClientId, Subject, UnixTime};
use sesame_op::model::{Client, Consent, Interaction};
use sesame_op::store::{ClientStore, ConsentStore, InteractionStore, StoreError, StoreResult};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::cache::TtlCache;
use crate::crypt::EncryptionKey;

/// The migrations, embedded.
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$p` bound to the concrete pool.
macro_rules! on {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
        }
    };
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
    /// SQLite files: a pool for `SELECT`s; every write goes through `pool`'s one connection.
    readers: Option<SqlitePool>,
    /// Background tasks (the SQLite checkpointer) stop when the last clone is dropped.
    _alive: Arc<()>,
    clients: Arc<TtlCache<String, Client>>,
    pub(crate) users: Arc<TtlCache<String, crate::User>>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        };
        f.debug_struct("SqlStore")
            .field("backend", &kind)
            .finish_non_exhaustive()
    }
}

pub(crate) fn db(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(e)
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(db)
}

pub(crate) fn from_json<T: DeserializeOwned>(value: &str) -> StoreResult<T> {
    serde_json::from_str(value).map_err(|e| StoreError::new(format!("corrupt record: {e}")))
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

/// A plain `SELECT`, which the SQLite reader pool may run.
fn is_read(sql: &str) -> bool {
    sql.trim_start()
        .get(..7)
        .is_some_and(|w| w.eq_ignore_ascii_case("SELECT "))
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
        let mut readers = None;
        let pool = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // After a burst, give the WAL file back down to 64 MiB.
                .pragma("journal_size_limit", "67108864");
            // One connection. An in-memory database exists per connection; and
            // for a file, SQLite runs one writer at a time anyway: more
            // connections only add lock waits (the busy handler sleeps) and
            // re-reads of pages another connection changed. Measured on a
            // full flow: 162 system calls with eight connections, 118 with one.
            let max = 1;
            let file = !url.contains(":memory:") && !url.contains("mode=memory");
            if file {
                // Reads go to a pool of their own: in WAL mode they never wait for
                // the writer, and on several cores they run beside it.
                let n = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
                readers = Some(
                    SqlitePoolOptions::new()
                        .max_connections(u32::try_from(n).unwrap_or(2))
                        .connect_with(options.clone())
                        .await?,
                );
            }
            let pool_options = if file {
                // Checkpoints (copying the WAL into the database, with an fsync)
                // run on a connection of their own, off the request path: on the
                // one connection they stalled every request behind the fsync
                // (measured: the core 10% idle under load, p99 +60%). The pool's
                // own automatic checkpoint stays as a safety net, far away.
                spawn_checkpointer(&options, &alive);
                options.clone().pragma("wal_autocheckpoint", "16384")
            } else {
                options
            };
            Pool::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(max)
                    .connect_with(pool_options)
                    .await?,
            )
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
            readers,
            _alive: alive,
            clients: Arc::new(TtlCache::new(Duration::ZERO)),
            users: Arc::new(TtlCache::new(Duration::ZERO)),
        };
        store.migrate().await?;
        // A wrong key fails here, before anything is sealed with it.
        store.check_encryption_key().await?;
        store.seal_legacy_client_secrets().await?;
        Ok(store)
    }

    /// Keeps clients and users' claims in memory for up to `ttl` (off by
    /// default). Every authorize, token and userinfo request reads them, so
    /// this removes most reads from a flow.
    ///
    /// Changes made through this store take effect at once; changes made
    /// elsewhere (the `sesame` CLI, another instance on the same PostgreSQL
    /// database) take effect within `ttl`: a deleted client or user, or a
    /// client's replaced secret, may be honoured for that long. Unknown ids
    /// are never cached, so a new client works at once.
    #[must_use]
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.clients = Arc::new(TtlCache::new(ttl));
        self.users = Arc::new(TtlCache::new(ttl));
        self
    }

    /// Applies pending migrations (also done by `connect`).
    ///
    /// # Errors
    /// When a migration fails.
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        on!(&self.pool, p => MIGRATOR.run(p).await)?;
        Ok(())
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        if let Some(r) = &self.readers {
            r.close().await;
        }
        on!(&self.pool, p => p.close().await);
    }

    pub(crate) async fn exec(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<u64> {
        on!(&self.pool, p => {
            let q = bind(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())), args);
            q.execute(p).await.map(|r| r.rows_affected()).map_err(db)
        })
    }

    /// Runs a query and returns each row's columns as optional strings/ints.
    pub(crate) async fn rows(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        columns: &[Col],
    ) -> StoreResult<Vec<Vec<Cell>>> {
        let reader = match &self.readers {
            Some(r) if is_read(sql) => Some(Pool::Sqlite(r.clone())),
            _ => None,
        };
        on!(reader.as_ref().unwrap_or(&self.pool), p => {
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
        })
    }

    pub(crate) async fn one_text(
        &self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> StoreResult<Option<String>> {
        let rows = self.rows(sql, args, &[Col::Text]).await?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .and_then(Cell::text))
    }

    pub(crate) async fn texts(&self, sql: &str, args: &[Arg<'_>]) -> StoreResult<Vec<String>> {
        let rows = self.rows(sql, args, &[Col::Text]).await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().and_then(Cell::text))
            .collect())
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
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

#[derive(Debug, Clone, Copy)]
pub(crate) enum Col {
    Text,
    Int,
}

#[derive(Debug, Clone)]
pub(crate) enum Cell {
    Text(Option<String>),
    Int(i64),
}

impl Cell {
    pub(crate) fn text(self) -> Option<String> {
        match self {
            Self::Text(t) => t,
            Self::Int(_) => None,
        }
    }

    pub(crate) fn int(&self) -> i64 {
        match self {
            Self::Int(i) => *i,
            Self::Text(_) => 0,
        }
    }
}

#[async_trait]
impl ClientStore for SqlStore {
    async fn find_client(&self, client_id: &ClientId) -> StoreResult<Option<Client>> {
        if let Some(client) = self.clients.get(client_id.as_str()) {
            return Ok(Some(client));
        }
        let seen = self.clients.generation();
        let client: Option<Client> = self
            .rows(
                "SELECT client_id, data, client_secret_sealed FROM sesame_clients WHERE client_id = $1",
                &[Arg::Text(client_id.as_str())],
                &[Col::Text, Col::Text, Col::Text],
            )
            .await?
            .into_iter()
            .next()
            .map(|row| self.client_from_cells(row))
            .transpose()?;
        if let Some(c) = &client {
            self.clients
                .put(client_id.as_str().to_owned(), c.clone(), seen);
        }
        Ok(client)
    }

    async fn save_client(&self, client: &Client) -> StoreResult<()> {
        self.clients.forget(client.client_id.as_str());
        let (data, sealed) = self.client_row(client)?;
        self.exec(
            "INSERT INTO sesame_clients (client_id, data, created_at, client_secret_sealed) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (client_id) DO UPDATE SET data = excluded.data, \
             client_secret_sealed = excluded.client_secret_sealed",
            &[
                Arg::Text(client.client_id.as_str()),
                Arg::Text(&data),
                Arg::Int(client.created_at),
                Arg::OptText(sealed.as_deref()),
            ],
        )
        .await?;
        // Again after the write: a read in between may have cached the old row.
        self.clients.forget(client.client_id.as_str());
        Ok(())
    }

    async fn delete_client(&self, client_id: &ClientId) -> StoreResult<bool> {
        self.clients.forget(client_id.as_str());
        let deleted = self
            .exec(
                "DELETE FROM sesame_clients WHERE client_id = $1",
                &[Arg::Text(client_id.as_str())],
            )
            .await?
            > 0;
        self.clients.forget(client_id.as_str());
        Ok(deleted)
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        self.rows(
            "SELECT client_id, data, client_secret_sealed FROM sesame_clients ORDER BY client_id",
            &[],
            &[Col::Text, Col::Text, Col::Text],
        )
        .await?
        .into_iter()
        .map(|row| self.client_from_cells(row))
        .collect()
    }
}

#[async_trait]
impl ConsentStore for SqlStore {
    async fn find_consent(
        &self,
        subject: &Subject,
        client_id: &ClientId,
        now: UnixTime,
    ) -> StoreResult<Option<Consent>> {
        self.one_text(
            "SELECT data FROM sesame_consents WHERE subject = $1 AND client_id = $2 AND expires_at > $3",
            &[Arg::Text(subject.as_str()), Arg::Text(client_id.as_str()), Arg::Int(now)],
        )
        .await?
        .map(|d| from_json(&d))
        .transpose()
    }

    async fn save_consent(&self, consent: &Consent) -> StoreResult<()> {
        let data = to_json(consent)?;
        self.exec(
            "INSERT INTO sesame_consents (subject, client_id, data, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (subject, client_id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
            &[
                Arg::Text(consent.subject.as_str()),
                Arg::Text(consent.client_id.as_str()),
                Arg::Text(&data),
                Arg::Int(consent.expires_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn revoke_consent(&self, subject: &Subject, client_id: &ClientId) -> StoreResult<()> {
        self.exec(
            "DELETE FROM sesame_consents WHERE subject = $1 AND client_id = $2",
            &[Arg::Text(subject.as_str()), Arg::Text(client_id.as_str())],
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl InteractionStore for SqlStore {
    async fn save_interaction(&self, key: &str, interaction: &Interaction) -> StoreResult<()> {
        let data = to_json(interaction)?;
        self.exec(
            "INSERT INTO sesame_interactions (token_key, data, expires_at) VALUES ($1, $2, $3)",
            &[
                Arg::Text(key),
                Arg::Text(&data),
                Arg::Int(interaction.expires_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn take_interaction(&self, key: &str, now: UnixTime) -> StoreResult<Option<Interaction>> {
        let data = self
            .one_text(
                "DELETE FROM sesame_interactions WHERE token_key = $1 RETURNING data",
                &[Arg::Text(key)],
            )
            .await?;
        let Some(data) = data else { return Ok(None) };
        let i: Interaction = from_json(&data)?;
        Ok((i.expires_at > now).then_some(i))
    }
}
