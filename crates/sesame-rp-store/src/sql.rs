//! `SqlStore`: sessions, logouts and leases in SQLite or PostgreSQL.
//!
//! Four tables, created at connect when missing (`sesame_rp_sessions`,
//! `sesame_rp_logouts`, `sesame_rp_jtis`, `sesame_rp_leases`); on PostgreSQL
//! they go into the connection's `search_path` schema. Every query is the
//! same text on both (`$N` placeholders, numbered in order of appearance).

use std::time::Duration;

use async_trait::async_trait;
use sesame_core::UnixTime;
use sesame_rp::{LeaseError, LogoutRegistry, RefreshLease, SeenJti, SeenJtiError};
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;

use crate::record::{self, DEFAULT_LOGOUT_RETENTION, DEFAULT_MAX_RECORD_BYTES};
use crate::{StoreError, Sweep};

#[derive(Clone)]
enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

/// Runs `$body` with `$p` bound to the pool, whichever database it is.
macro_rules! with_pool {
    ($self:expr, $p:ident => $body:expr) => {
        match &$self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite($p) => $body,
            #[cfg(feature = "postgres")]
            Pool::Postgres($p) => $body,
        }
    };
}

/// Sessions, back-channel logouts and refresh leases in SQLite or PostgreSQL.
#[derive(Clone)]
pub struct SqlStore {
    pool: Pool,
    max_record_bytes: usize,
    logout_retention: i64,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let db = with_pool!(self, _p => std::any::type_name_of_val(_p));
        f.debug_struct("SqlStore")
            .field("pool", &db)
            .field("max_record_bytes", &self.max_record_bytes)
            .finish_non_exhaustive()
    }
}

const SCHEMA: [&str; 6] = [
    "CREATE TABLE IF NOT EXISTS sesame_rp_sessions (id TEXT PRIMARY KEY, record TEXT NOT NULL, expires_at BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sesame_rp_sessions_expires ON sesame_rp_sessions (expires_at)",
    "CREATE TABLE IF NOT EXISTS sesame_rp_logouts (issuer TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL, at BIGINT NOT NULL, expires_at BIGINT NOT NULL, PRIMARY KEY (issuer, kind, value))",
    "CREATE INDEX IF NOT EXISTS sesame_rp_logouts_expires ON sesame_rp_logouts (expires_at)",
    "CREATE TABLE IF NOT EXISTS sesame_rp_jtis (issuer TEXT NOT NULL, jti TEXT NOT NULL, expires_at BIGINT NOT NULL, PRIMARY KEY (issuer, jti))",
    "CREATE TABLE IF NOT EXISTS sesame_rp_leases (lease_key TEXT PRIMARY KEY, expires_at BIGINT NOT NULL, outcome TEXT)",
];

/// The expired rows of each table, `$2` at a time.
const SWEEPS: [&str; 4] = [
    "DELETE FROM sesame_rp_sessions WHERE id IN (SELECT id FROM sesame_rp_sessions WHERE expires_at <= $1 LIMIT $2)",
    "DELETE FROM sesame_rp_logouts WHERE (issuer, kind, value) IN (SELECT issuer, kind, value FROM sesame_rp_logouts WHERE expires_at <= $1 LIMIT $2)",
    "DELETE FROM sesame_rp_jtis WHERE (issuer, jti) IN (SELECT issuer, jti FROM sesame_rp_jtis WHERE expires_at <= $1 LIMIT $2)",
    "DELETE FROM sesame_rp_leases WHERE lease_key IN (SELECT lease_key FROM sesame_rp_leases WHERE expires_at <= $1 LIMIT $2)",
];

fn backend(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn session_error(e: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn lease_error(e: sqlx::Error) -> LeaseError {
    LeaseError(e.to_string())
}

impl SqlStore {
    fn new(pool: Pool) -> Self {
        Self {
            pool,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            logout_retention: DEFAULT_LOGOUT_RETENTION,
        }
    }

    /// A SQLite file (`sqlite://FILE`, created when missing; WAL, so several
    /// processes on one machine may share it).
    ///
    /// # Errors
    /// A bad URL, or a file that cannot be opened or set up.
    #[cfg(feature = "sqlite")]
    pub async fn sqlite(url: &str) -> Result<Self, StoreError> {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
        use std::str::FromStr as _;
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Url(format!("{url:?}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(backend)?;
        let mut tx = pool.begin().await.map_err(backend)?;
        for ddl in SCHEMA {
            sqlx::query(ddl).execute(&mut *tx).await.map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(Self::new(Pool::Sqlite(pool)))
    }

    /// A PostgreSQL database (`postgres://…`); the tables go into the
    /// connection's schema (`options=-c search_path=…` picks another).
    ///
    /// # Errors
    /// A bad URL, or a database that cannot be reached or set up.
    #[cfg(feature = "postgres")]
    pub async fn postgres(url: &str) -> Result<Self, StoreError> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(backend)?;
        let mut tx = pool.begin().await.map_err(backend)?;
        // Instances starting together: one creates the tables, the others wait.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('sesame_rp_store'))")
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        for ddl in SCHEMA {
            sqlx::query(ddl).execute(&mut *tx).await.map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(Self::new(Pool::Postgres(pool)))
    }

    /// Refuses session records over `bytes` of JSON (default
    /// [`DEFAULT_MAX_RECORD_BYTES`]): saving one fails, the store keeps the last good one.
    #[must_use]
    pub fn with_max_record_bytes(mut self, bytes: usize) -> Self {
        self.max_record_bytes = bytes;
        self
    }

    /// Remembers back-channel logouts for `seconds` (default
    /// [`DEFAULT_LOGOUT_RETENTION`]; keep it at least the session idle time).
    #[must_use]
    pub fn with_logout_retention(mut self, seconds: i64) -> Self {
        self.logout_retention = seconds;
        self
    }

    /// Inserts the record unless its id is taken; whether it was inserted.
    async fn insert_new(&self, record: &Record) -> session_store::Result<bool> {
        let json = record::encode(record, self.max_record_bytes)?;
        let sql = "INSERT INTO sesame_rp_sessions (id, record, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING";
        let id = record.id.to_string();
        let exp = record.expiry_date.unix_timestamp();
        let done = with_pool!(self, p => sqlx::query(sql).bind(&id).bind(&json).bind(exp).execute(p).await.map(|r| r.rows_affected()));
        Ok(done.map_err(session_error)? == 1)
    }
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        for _ in 0..8 {
            if self.insert_new(record).await? {
                return Ok(());
            }
            // A 128-bit id collision: draw another.
            record.id = Id::default();
        }
        Err(session_store::Error::Backend(
            "no free session id after 8 draws".into(),
        ))
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let json = record::encode(record, self.max_record_bytes)?;
        let sql = "INSERT INTO sesame_rp_sessions (id, record, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET record = excluded.record, expires_at = excluded.expires_at";
        let id = record.id.to_string();
        let exp = record.expiry_date.unix_timestamp();
        with_pool!(self, p => sqlx::query(sql).bind(&id).bind(&json).bind(exp).execute(p).await.map(drop))
            .map_err(session_error)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let sql = "SELECT record FROM sesame_rp_sessions WHERE id = $1 AND expires_at > $2";
        let id = id.to_string();
        let now = record::now();
        let json: Option<String> = with_pool!(self, p => sqlx::query_scalar(sql).bind(&id).bind(now).fetch_optional(p).await)
            .map_err(session_error)?;
        json.as_deref().map(record::decode).transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let sql = "DELETE FROM sesame_rp_sessions WHERE id = $1";
        let id = id.to_string();
        with_pool!(self, p => sqlx::query(sql).bind(&id).execute(p).await.map(drop))
            .map_err(session_error)
    }
}

#[async_trait]
impl LogoutRegistry for SqlStore {
    async fn record(&self, issuer: &str, sid: Option<&str>, sub: Option<&str>, at: UnixTime) {
        let (kind, value) = match (sid, sub) {
            (Some(sid), _) => ("sid", sid),
            (None, Some(sub)) => ("sub", sub),
            (None, None) => return,
        };
        let sql = "INSERT INTO sesame_rp_logouts (issuer, kind, value, at, expires_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (issuer, kind, value) DO UPDATE SET at = excluded.at, expires_at = excluded.expires_at";
        let expires = record::now().saturating_add(self.logout_retention);
        let done = with_pool!(self, p => sqlx::query(sql).bind(issuer).bind(kind).bind(value).bind(at).bind(expires).execute(p).await.map(drop));
        if let Err(e) = done {
            tracing::error!(error = %e, "back-channel logout not recorded");
        }
    }

    async fn is_ended(&self, issuer: &str, sid: Option<&str>, sub: &str, since: UnixTime) -> bool {
        let sql = "SELECT COUNT(*) FROM sesame_rp_logouts WHERE issuer = $1 AND expires_at > $2 AND ((kind = 'sid' AND value = $3) OR (kind = 'sub' AND value = $4 AND at >= $5))";
        let now = record::now();
        let found: Result<i64, _> = with_pool!(self, p => sqlx::query_scalar(sql).bind(issuer).bind(now).bind(sid).bind(sub).bind(since).fetch_one(p).await);
        // A store that does not answer cannot say the session is still on.
        found.map_or_else(
            |e| {
                tracing::warn!(error = %e, "logout registry unreadable; ending the session");
                true
            },
            |n| n > 0,
        )
    }

    async fn first_use_of_jti(&self, issuer: &str, jti: &str, expires_at: UnixTime) -> bool {
        let sql = "INSERT INTO sesame_rp_jtis (issuer, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT (issuer, jti) DO NOTHING";
        let done = with_pool!(self, p => sqlx::query(sql).bind(issuer).bind(jti).bind(expires_at).execute(p).await.map(|r| r.rows_affected()));
        done.is_ok_and(|n| n == 1)
    }
}

/// DPoP proofs share the `jti` table with logout tokens, under an issuer
/// no provider can have (issuers are URLs).
const DPOP_NAMESPACE: &str = "dpop";

#[async_trait]
impl SeenJti for SqlStore {
    async fn first_use(
        &self,
        key: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool, SeenJtiError> {
        // New, or expired and not yet swept: recorded (one row either way).
        let sql = "INSERT INTO sesame_rp_jtis (issuer, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = excluded.expires_at WHERE sesame_rp_jtis.expires_at <= $4";
        let done = with_pool!(self, p => sqlx::query(sql).bind(DPOP_NAMESPACE).bind(key).bind(expires_at).bind(now).execute(p).await.map(|r| r.rows_affected()));
        done.map(|n| n == 1)
            .map_err(|e| SeenJtiError::Store(e.to_string()))
    }
}

#[async_trait]
impl RefreshLease for SqlStore {
    async fn try_acquire(&self, key: &str, ttl_secs: i64) -> Result<bool, LeaseError> {
        let sql = "INSERT INTO sesame_rp_leases (lease_key, expires_at, outcome) VALUES ($1, $2, NULL) ON CONFLICT (lease_key) DO UPDATE SET expires_at = excluded.expires_at, outcome = NULL WHERE sesame_rp_leases.expires_at <= $3";
        let now = record::now();
        let n = with_pool!(self, p => sqlx::query(sql).bind(key).bind(now.saturating_add(ttl_secs)).bind(now).execute(p).await.map(|r| r.rows_affected()))
            .map_err(lease_error)?;
        Ok(n == 1)
    }

    async fn finish(&self, key: &str, outcome: &str, ttl_secs: i64) -> Result<(), LeaseError> {
        let sql = "UPDATE sesame_rp_leases SET outcome = $1, expires_at = $2 WHERE lease_key = $3";
        let exp = record::now().saturating_add(ttl_secs);
        with_pool!(self, p => sqlx::query(sql).bind(outcome).bind(exp).bind(key).execute(p).await.map(drop))
            .map_err(lease_error)
    }

    async fn outcome(&self, key: &str) -> Result<Option<String>, LeaseError> {
        let sql = "SELECT outcome FROM sesame_rp_leases WHERE lease_key = $1 AND expires_at > $2";
        let now = record::now();
        let row: Option<Option<String>> = with_pool!(self, p => sqlx::query_scalar(sql).bind(key).bind(now).fetch_optional(p).await)
            .map_err(lease_error)?;
        Ok(row.flatten())
    }
}

#[async_trait]
impl Sweep for SqlStore {
    async fn sweep(&self, batch: u32) -> Result<u64, StoreError> {
        let now = record::now();
        let batch = i64::from(batch.max(1));
        let mut total = 0;
        for sql in SWEEPS {
            loop {
                let n = with_pool!(self, p => sqlx::query(sql).bind(now).bind(batch).execute(p).await.map(|r| r.rows_affected()))
                    .map_err(backend)?;
                total += n;
                if n < batch.unsigned_abs() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        Ok(total)
    }
}
