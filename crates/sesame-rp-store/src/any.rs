//! `AnyStore`: the store a URL names.

use async_trait::async_trait;
use sesame_core::UnixTime;
use sesame_rp::{LeaseError, LogoutRegistry, RefreshLease};
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;

use crate::{StoreError, Sweep};

/// The store named by a URL: `sqlite://FILE`, `postgres://…`, `redis://…`
/// (each with its feature). One value is the session store, the logout
/// registry and the refresh lease: clone it into all three.
///
/// ```no_run
/// # async fn demo(oidc: sesame_rp::OidcClientBuilder) -> Result<(), Box<dyn std::error::Error>> {
/// let store = sesame_rp_store::AnyStore::connect("redis://127.0.0.1:6379").await?;
/// let oidc = oidc.with_logout_registry(store.clone()).build().await?;
/// let refresh = sesame_rp::SessionRefresh::new(oidc.clone()).with_lease(store.clone());
/// sesame_rp_store::spawn_sweeper(store.clone(), std::time::Duration::from_secs(300));
/// let app: axum::Router = oidc
///     .router()
///     .layer(refresh)
///     .layer(sesame_rp::session_layer_with(store, true));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// SQLite or PostgreSQL.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    Sql(crate::SqlStore),
    /// Redis.
    #[cfg(feature = "redis")]
    Redis(crate::RedisStore),
}

/// Runs `$body` with `$s` bound to the inner store.
macro_rules! any {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            AnyStore::Sql($s) => $body,
            #[cfg(feature = "redis")]
            AnyStore::Redis($s) => $body,
        }
    };
}

/// Why a URL of a store this build leaves out is refused.
#[cfg(not(all(feature = "sqlite", feature = "postgres", feature = "redis")))]
fn not_built(feature: &str) -> StoreError {
    StoreError::Url(format!(
        "needs sesame-rp-store's `{feature}` feature, which this build leaves out"
    ))
}

impl AnyStore {
    /// Connects to the store `url` names (and creates its tables).
    ///
    /// # Errors
    /// An unknown scheme, a store this build leaves out, or one that does not answer.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split_once(':').map_or("", |(s, _)| s);
        match scheme {
            #[cfg(feature = "sqlite")]
            "sqlite" => Ok(Self::Sql(crate::SqlStore::sqlite(url).await?)),
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => Ok(Self::Sql(crate::SqlStore::postgres(url).await?)),
            #[cfg(feature = "redis")]
            "redis" => Ok(Self::Redis(crate::RedisStore::connect(url).await?)),
            #[cfg(not(feature = "sqlite"))]
            "sqlite" => Err(not_built("sqlite")),
            #[cfg(not(feature = "postgres"))]
            "postgres" | "postgresql" => Err(not_built("postgres")),
            #[cfg(not(feature = "redis"))]
            "redis" => Err(not_built("redis")),
            _ => Err(StoreError::Url(
                "URL: use sqlite://FILE, postgres://USER@HOST/DB or redis://HOST:PORT".into(),
            )),
        }
    }

    /// Refuses session records over `bytes` of JSON (default
    /// [`crate::DEFAULT_MAX_RECORD_BYTES`]).
    #[must_use]
    pub fn with_max_record_bytes(self, bytes: usize) -> Self {
        match self {
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            Self::Sql(s) => Self::Sql(s.with_max_record_bytes(bytes)),
            #[cfg(feature = "redis")]
            Self::Redis(s) => Self::Redis(s.with_max_record_bytes(bytes)),
        }
    }
}

#[async_trait]
impl SessionStore for AnyStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        any!(self, s => s.create(record).await)
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        any!(self, s => s.save(record).await)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        any!(self, s => s.load(id).await)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        any!(self, s => s.delete(id).await)
    }
}

#[async_trait]
impl LogoutRegistry for AnyStore {
    async fn record(&self, issuer: &str, sid: Option<&str>, sub: Option<&str>, at: UnixTime) {
        any!(self, s => s.record(issuer, sid, sub, at).await);
    }

    async fn is_ended(&self, issuer: &str, sid: Option<&str>, sub: &str, since: UnixTime) -> bool {
        any!(self, s => s.is_ended(issuer, sid, sub, since).await)
    }

    async fn first_use_of_jti(&self, issuer: &str, jti: &str, expires_at: UnixTime) -> bool {
        any!(self, s => s.first_use_of_jti(issuer, jti, expires_at).await)
    }
}

#[async_trait]
impl sesame_rp::SeenJti for AnyStore {
    async fn first_use(
        &self,
        key: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool, sesame_rp::SeenJtiError> {
        any!(self, s => s.first_use(key, expires_at, now).await)
    }
}

#[async_trait]
impl RefreshLease for AnyStore {
    async fn try_acquire(&self, key: &str, ttl_secs: i64) -> Result<bool, LeaseError> {
        any!(self, s => s.try_acquire(key, ttl_secs).await)
    }

    async fn finish(&self, key: &str, outcome: &str, ttl_secs: i64) -> Result<(), LeaseError> {
        any!(self, s => s.finish(key, outcome, ttl_secs).await)
    }

    async fn outcome(&self, key: &str) -> Result<Option<String>, LeaseError> {
        any!(self, s => s.outcome(key).await)
    }
}

#[async_trait]
impl Sweep for AnyStore {
    async fn sweep(&self, batch: u32) -> Result<u64, StoreError> {
        any!(self, s => s.sweep(batch).await)
    }
}
