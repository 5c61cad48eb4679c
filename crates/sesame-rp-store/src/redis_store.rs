//! `RedisStore`: sessions, logouts and leases as expiring Redis keys.
//!
//! Keys (under a prefix, `sesame_rp:` unless set): `s:ID` a session record
//! (expiring with the session), `lo:ISSUER#:sid:SID#` / `lo:ISSUER#:sub:SUB#`
//! a logout (`#`: a hash, so keys stay short), `jti:ISSUER#:JTI#` a logout
//! token seen, `lease:KEY` a refresh lease (`""` while held, `=OUTCOME` after).

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use sesame_core::UnixTime;
use sesame_rp::{LeaseError, LogoutRegistry, RefreshLease};
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store;

use crate::record::{self, DEFAULT_LOGOUT_RETENTION, DEFAULT_MAX_RECORD_BYTES};
use crate::{StoreError, Sweep};

/// The key prefix unless one is set.
pub(crate) const DEFAULT_PREFIX: &str = "sesame_rp:";

/// Sessions, back-channel logouts and refresh leases in Redis.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    max_record_bytes: usize,
    logout_retention: i64,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("max_record_bytes", &self.max_record_bytes)
            .finish_non_exhaustive()
    }
}

fn hashed(value: &str) -> String {
    sesame_core::token_hash(sesame_core::JwsAlgorithm::RS256, value)
}

impl RedisStore {
    /// Redis at `url` (`redis://HOST:PORT[/DB][?key_prefix=PREFIX]`).
    ///
    /// # Errors
    /// A bad URL or a server that does not answer.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let (url, prefix) = split_prefix(url)?;
        let client = redis::Client::open(url.as_str())
            .map_err(|e| StoreError::Url(format!("redis URL: {e}")))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2);
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| StoreError::Backend(format!("redis: {e}")))?;
        Ok(Self {
            conn,
            prefix: prefix.unwrap_or_else(|| DEFAULT_PREFIX.to_owned()),
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            logout_retention: DEFAULT_LOGOUT_RETENTION,
        })
    }

    /// Puts every key under `prefix` (several apps, or test runs, on one Redis).
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Refuses session records over `bytes` of JSON (default [`DEFAULT_MAX_RECORD_BYTES`]).
    #[must_use]
    pub fn with_max_record_bytes(mut self, bytes: usize) -> Self {
        self.max_record_bytes = bytes;
        self
    }

    /// Remembers back-channel logouts for `seconds` (default [`DEFAULT_LOGOUT_RETENTION`]).
    #[must_use]
    pub fn with_logout_retention(mut self, seconds: i64) -> Self {
        self.logout_retention = seconds;
        self
    }

    fn session_key(&self, id: &Id) -> String {
        format!("{}s:{id}", self.prefix)
    }

    fn logout_key(&self, issuer: &str, kind: &str, value: &str) -> String {
        format!(
            "{}lo:{}:{kind}:{}",
            self.prefix,
            hashed(issuer),
            hashed(value)
        )
    }

    async fn set(
        &self,
        key: &str,
        value: &str,
        nx: bool,
        expire: (&str, i64),
    ) -> redis::RedisResult<bool> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value);
        if nx {
            cmd.arg("NX");
        }
        cmd.arg(expire.0).arg(expire.1.max(1));
        let done: Option<String> = cmd.query_async(&mut self.conn.clone()).await?;
        Ok(done.is_some())
    }

    async fn get(&self, key: &str) -> redis::RedisResult<Option<String>> {
        redis::cmd("GET")
            .arg(key)
            .query_async(&mut self.conn.clone())
            .await
    }
}

/// The URL without its `key_prefix` parameter, and that parameter.
fn split_prefix(raw: &str) -> Result<(String, Option<String>), StoreError> {
    let mut url = url::Url::parse(raw).map_err(|e| StoreError::Url(format!("redis URL: {e}")))?;
    let mut prefix = None;
    let rest: Vec<(String, String)> = url
        .query_pairs()
        .filter_map(|(k, v)| {
            if k == "key_prefix" {
                prefix = Some(v.into_owned());
                None
            } else {
                Some((k.into_owned(), v.into_owned()))
            }
        })
        .collect();
    if rest.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(rest);
    }
    Ok((url.into(), prefix))
}

fn session_error(e: redis::RedisError) -> session_store::Error {
    session_store::Error::Backend(format!("redis: {e}"))
}

fn lease_error(e: redis::RedisError) -> LeaseError {
    LeaseError(format!("redis: {e}"))
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        for _ in 0..8 {
            let json = record::encode(record, self.max_record_bytes)?;
            let exp = ("EXAT", record.expiry_date.unix_timestamp());
            if self
                .set(&self.session_key(&record.id), &json, true, exp)
                .await
                .map_err(session_error)?
            {
                return Ok(());
            }
            record.id = Id::default();
        }
        Err(session_store::Error::Backend(
            "no free session id after 8 draws".into(),
        ))
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let json = record::encode(record, self.max_record_bytes)?;
        let exp = ("EXAT", record.expiry_date.unix_timestamp());
        self.set(&self.session_key(&record.id), &json, false, exp)
            .await
            .map(drop)
            .map_err(session_error)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let json = self
            .get(&self.session_key(id))
            .await
            .map_err(session_error)?;
        json.as_deref().map(record::decode).transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        redis::cmd("DEL")
            .arg(self.session_key(id))
            .query_async::<i64>(&mut self.conn.clone())
            .await
            .map(drop)
            .map_err(session_error)
    }
}

#[async_trait]
impl LogoutRegistry for RedisStore {
    async fn record(&self, issuer: &str, sid: Option<&str>, sub: Option<&str>, at: UnixTime) {
        let key = match (sid, sub) {
            (Some(sid), _) => self.logout_key(issuer, "sid", sid),
            (None, Some(sub)) => self.logout_key(issuer, "sub", sub),
            (None, None) => return,
        };
        let ttl = ("EX", self.logout_retention);
        if let Err(e) = self.set(&key, &at.to_string(), false, ttl).await {
            tracing::error!(error = %e, "back-channel logout not recorded");
        }
    }

    async fn is_ended(&self, issuer: &str, sid: Option<&str>, sub: &str, since: UnixTime) -> bool {
        let sid_key = sid.map(|s| self.logout_key(issuer, "sid", s));
        let sub_key = self.logout_key(issuer, "sub", sub);
        let mut cmd = redis::cmd("MGET");
        cmd.arg(&sub_key);
        if let Some(k) = &sid_key {
            cmd.arg(k);
        }
        let found: Result<Vec<Option<i64>>, _> = cmd.query_async(&mut self.conn.clone()).await;
        match found {
            Ok(v) => {
                let by_sub = v.first().copied().flatten().is_some_and(|at| at >= since);
                let by_sid = v.get(1).copied().flatten().is_some();
                by_sub || by_sid
            }
            Err(e) => {
                tracing::warn!(error = %e, "logout registry unreadable; ending the session");
                true
            }
        }
    }

    async fn first_use_of_jti(&self, issuer: &str, jti: &str, expires_at: UnixTime) -> bool {
        let key = format!("{}jti:{}:{}", self.prefix, hashed(issuer), hashed(jti));
        let at = expires_at.max(record::now().saturating_add(1));
        self.set(&key, "1", true, ("EXAT", at))
            .await
            .unwrap_or(false)
    }
}

#[async_trait]
impl sesame_rp::SeenJti for RedisStore {
    async fn first_use(
        &self,
        key: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool, sesame_rp::SeenJtiError> {
        let key = format!("{}dpop-jti:{}", self.prefix, hashed(key));
        self.set(
            &key,
            "1",
            true,
            ("EXAT", expires_at.max(now.saturating_add(1))),
        )
        .await
        .map_err(|e| sesame_rp::SeenJtiError::Store(e.to_string()))
    }
}

#[async_trait]
impl RefreshLease for RedisStore {
    async fn try_acquire(&self, key: &str, ttl_secs: i64) -> Result<bool, LeaseError> {
        let key = format!("{}lease:{key}", self.prefix);
        self.set(&key, "", true, ("EX", ttl_secs))
            .await
            .map_err(lease_error)
    }

    async fn finish(&self, key: &str, outcome: &str, ttl_secs: i64) -> Result<(), LeaseError> {
        let key = format!("{}lease:{key}", self.prefix);
        self.set(&key, &format!("={outcome}"), false, ("EX", ttl_secs))
            .await
            .map(drop)
            .map_err(lease_error)
    }

    async fn outcome(&self, key: &str) -> Result<Option<String>, LeaseError> {
        let key = format!("{}lease:{key}", self.prefix);
        let v = self.get(&key).await.map_err(lease_error)?;
        Ok(v.and_then(|s| s.strip_prefix('=').map(str::to_owned)))
    }
}

#[async_trait]
impl Sweep for RedisStore {
    /// Nothing to do: every key expires on its own.
    async fn sweep(&self, _batch: u32) -> Result<u64, StoreError> {
        Ok(0)
    }
}
