//! Rate limits: the client address behind trusted proxies, keys hashed to
//! a fixed size, failure counters shared by instances (in the database or
//! in Redis), and the per-process token bucket for per-second limits.
//!
//! Every key is a kind and the SHA-256 (base64url, 43 bytes) of what it
//! counts, so what an attacker sends never decides how much is kept.

pub(crate) mod endpoints;
pub(crate) mod sql;

pub use sql::RateCounter;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use ipnet::IpNet;
use sesame_core::UnixTime;
use sesame_op::secrets::token_key;
use sesame_op::store::StoreError;
use sesame_op_sqlx::SqlStore;

/// A fixed-size key for `value` of `kind`: `kind:` and the SHA-256 of
/// `value`, base64url (43 bytes).
pub(crate) fn limit_key(kind: &str, value: &str) -> String {
    format!("{kind}:{}", token_key(value))
}

/// A short, non-reversible name for a username in logs (failed attempts
/// never log the name itself): 12 characters of its hash.
pub(crate) fn log_name(username: &str) -> String {
    token_key(&username.to_lowercase())
        .chars()
        .take(12)
        .collect()
}

/// Which peers are proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    /// `trust_forwarded_for = true` (deprecated): the peer is a proxy,
    /// whatever its address.
    any_peer: bool,
}

impl TrustedProxies {
    /// `nets` (`trusted_proxies`); `any_peer` for the deprecated
    /// `trust_forwarded_for = true`.
    pub fn new(nets: Vec<IpNet>, any_peer: bool) -> Self {
        Self { nets, any_peer }
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The address rate limits count by. When the peer is a trusted proxy:
    /// the right-most `X-Forwarded-For` address that is not a trusted proxy
    /// (proxies append, so everything left of it came from the client and
    /// is ignored); the left-most one if all are trusted; the last trusted
    /// hop if an entry is not an address. Otherwise the peer, and the header
    /// is ignored.
    pub fn client_ip(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> String {
        let Some(peer) = peer.map(|p| p.ip().to_canonical()) else {
            return String::new();
        };
        if !(self.any_peer || self.trusted(peer)) {
            return peer.to_string();
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                break;
            };
            client = ip;
            if !self.trusted(ip) {
                break;
            }
        }
        client.to_string()
    }
}

/// An `X-Forwarded-For` entry: an address, perhaps with a port (`1.2.3.4:5`,
/// `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    hop.parse::<SocketAddr>()
        .ok()
        .map(|s| s.ip().to_canonical())
}

/// Where the failure counters live: the database (SQLite or PostgreSQL),
/// or Redis when `rate_limits.redis` is set.
#[derive(Clone)]
pub enum Counters {
    /// `sesame_rate_limits` in the provider's database.
    Sql(Arc<SqlStore>),
    /// Hashes `sesame:rl:KEY` in Redis, expiring with their window.
    Redis(redis::aio::ConnectionManager),
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sql(_) => "Counters::Sql",
            Self::Redis(_) => "Counters::Redis",
        })
    }
}

const REDIS_PREFIX: &str = "sesame:rl:";

/// Counts a failure in a window: a new window (and no block) once the
/// last is over.
const REDIS_FAIL: &str = r"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local w = tonumber(redis.call('HGET', KEYS[1], 'w') or '-1')
if w <= now - window then
  redis.call('HSET', KEYS[1], 'c', 1, 'w', now, 'b', 0)
  redis.call('EXPIRE', KEYS[1], window)
  return {1, now, 0}
end
local c = redis.call('HINCRBY', KEYS[1], 'c', 1)
return {c, w, tonumber(redis.call('HGET', KEYS[1], 'b') or '0')}
";

/// Sets the block, and keeps the key at least until it ends.
const REDIS_BLOCK: &str = r"
redis.call('HSET', KEYS[1], 'b', ARGV[1])
local ttl = redis.call('TTL', KEYS[1])
local want = tonumber(ARGV[2])
if ttl < want then redis.call('EXPIRE', KEYS[1], want) end
return 1
";

fn redis_error(e: redis::RedisError) -> StoreError {
    StoreError::new(format!("redis: {e}"))
}

impl Counters {
    /// Redis at `url` (`redis://HOST:PORT`).
    ///
    /// # Errors
    /// A bad URL or an unreachable server.
    pub async fn redis(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(redis_error)?;
        // Short timeouts: a sign-in waits at most this long for a Redis that
        // does not answer, then goes on unlimited (fail open).
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(2);
        let manager = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(redis_error)?;
        Ok(Self::Redis(manager))
    }

    /// The counters of `keys`, in order (zeros for unknown keys).
    ///
    /// # Errors
    /// When the database or Redis fails.
    pub async fn read(&self, keys: &[&str]) -> Result<Vec<RateCounter>, StoreError> {
        match self {
            Self::Sql(store) => sql::read(store, keys).await,
            Self::Redis(conn) => {
                let mut conn = conn.clone();
                let mut pipe = redis::pipe();
                for k in keys {
                    pipe.cmd("HMGET")
                        .arg(format!("{REDIS_PREFIX}{k}"))
                        .arg("c")
                        .arg("w")
                        .arg("b");
                }
                let rows: Vec<(Option<i64>, Option<i64>, Option<i64>)> =
                    pipe.query_async(&mut conn).await.map_err(redis_error)?;
                Ok(rows
                    .into_iter()
                    .map(|(c, w, b)| RateCounter {
                        count: c.unwrap_or_default(),
                        window_start: w.unwrap_or_default(),
                        blocked_until: b.unwrap_or_default(),
                    })
                    .collect())
            }
        }
    }

    /// Counts one failure for `key` in a window of `window` seconds (a new
    /// window, and no block, once the last one is over): the counter after it.
    ///
    /// # Errors
    /// When the database or Redis fails.
    pub async fn fail(
        &self,
        key: &str,
        now: UnixTime,
        window: i64,
    ) -> Result<RateCounter, StoreError> {
        match self {
            Self::Sql(store) => sql::fail(store, key, now, window).await,
            Self::Redis(conn) => {
                let mut conn = conn.clone();
                let (count, window_start, blocked_until): (i64, i64, i64) =
                    redis::Script::new(REDIS_FAIL)
                        .key(format!("{REDIS_PREFIX}{key}"))
                        .arg(now)
                        .arg(window)
                        .invoke_async(&mut conn)
                        .await
                        .map_err(redis_error)?;
                Ok(RateCounter {
                    count,
                    window_start,
                    blocked_until,
                })
            }
        }
    }

    /// Refuses `key` until `until` (kept at least that long).
    ///
    /// # Errors
    /// When the database or Redis fails.
    pub async fn block(&self, key: &str, now: UnixTime, until: UnixTime) -> Result<(), StoreError> {
        match self {
            Self::Sql(store) => sql::block(store, key, until).await,
            Self::Redis(conn) => {
                let mut conn = conn.clone();
                let _: i64 = redis::Script::new(REDIS_BLOCK)
                    .key(format!("{REDIS_PREFIX}{key}"))
                    .arg(until)
                    .arg((until - now).max(1))
                    .invoke_async(&mut conn)
                    .await
                    .map_err(redis_error)?;
                Ok(())
            }
        }
    }

    /// Deletes the counters whose window and block are over (in the
    /// database; Redis expires its keys itself): how many.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn sweep(&self, now: UnixTime) -> Result<u64, StoreError> {
        match self {
            Self::Sql(store) => sql::sweep(store, now).await,
            Self::Redis(_) => Ok(0),
        }
    }

    /// Counts a failure for `key` in a window of `window` seconds and, at
    /// `limit` failures, refuses it until the window ends.
    pub(crate) async fn fail_with_limit(
        &self,
        key: &str,
        now: UnixTime,
        window: i64,
        limit: u32,
    ) -> Result<(), StoreError> {
        let c = self.fail(key, now, window).await?;
        if c.count >= i64::from(limit.max(1)) {
            self.block(key, now, c.window_start.saturating_add(window))
                .await?;
        }
        Ok(())
    }
}

/// Seconds until `c`'s block ends, if it is in force.
pub(crate) fn blocked(c: &RateCounter, now: UnixTime) -> Option<Duration> {
    (c.blocked_until > now).then(|| Duration::from_secs((c.blocked_until - now).unsigned_abs()))
}

/// A token bucket per key, in this process: for per-second limits, where a
/// shared store would cost a write per request. Keys are hashed on entry.
#[derive(Debug)]
pub struct RateLimiter {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Buckets kept before full ones are forgotten: at ~100 bytes each, 10 MB.
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    /// `per_minute` requests a minute, with bursts up to that number.
    pub fn per_minute(per_minute: u32) -> Self {
        Self::new(
            f64::from(per_minute.max(1)),
            f64::from(per_minute.max(1)) / 60.0,
        )
    }

    /// `per_second` requests a second, with bursts of twice that.
    pub fn per_second(per_second: u32) -> Self {
        let rate = f64::from(per_second.max(1));
        Self::new(rate * 2.0, rate)
    }

    fn new(capacity: f64, per_second: f64) -> Self {
        Self {
            capacity,
            per_second,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn with_bucket<T>(&self, key: &str, f: impl FnOnce(&mut f64) -> T) -> Option<T> {
        let now = Instant::now();
        let key = token_key(key);
        let mut buckets = self.buckets.lock().ok()?;
        if buckets.len() > MAX_BUCKETS {
            let (cap, rate) = (self.capacity, self.per_second);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < cap
            });
        }
        let (tokens, at) = buckets.entry(key).or_insert((self.capacity, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.capacity);
        *at = now;
        Some(f(tokens))
    }

    fn retry(&self, tokens: f64) -> Duration {
        Duration::from_secs_f64(((1.0 - tokens) / self.per_second).max(1.0))
    }

    /// Takes one token for `key`: `Ok(())`, or `Err(retry_after)`.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.has_token(key, true)
    }

    /// Whether `key` has a token left, taking none.
    pub fn peek(&self, key: &str) -> Result<(), Duration> {
        self.has_token(key, false)
    }

    /// Whether `key` has a token left (taking it if `take`): `Ok(())`, or
    /// `Err(retry_after)`.
    fn has_token(&self, key: &str, take: bool) -> Result<(), Duration> {
        self.with_bucket(key, |tokens| {
            if *tokens < 1.0 {
                return Err(self.retry(*tokens));
            }
            if take {
                *tokens -= 1.0;
            }
            Ok(())
        })
        .unwrap_or(Ok(()))
    }

    /// Takes one token for `key` whether or not one is left (a request
    /// already served): the bucket may go below zero, down to `-capacity`.
    pub fn take(&self, key: &str) {
        let cap = self.capacity;
        let _ = self.with_bucket(key, |tokens| *tokens = (*tokens - 1.0).max(-cap));
    }
}

/// The peer address of a request served with connect info.
pub(crate) fn peer(request: &axum::extract::Request) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

/// The device verification page's limit on guessing user codes: a code
/// the page does not know (its 400) is counted per address in the shared
/// counters; an address past `device_failures_per_ip_per_minute` is refused
/// (429) until its minute ends, before its code is looked at.
pub(crate) async fn limit_device_page(
    ip: &str,
    (counters, per_minute): (&Counters, u32),
    now: UnixTime,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::IntoResponse as _;
    let key = limit_key("device-ip", ip);
    match counters.read(&[&key]).await {
        Ok(c) => {
            if let Some(retry) = c.first().and_then(|c| blocked(c, now)) {
                let mut r = (
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many wrong codes from your address; wait a minute and try again.",
                )
                    .into_response();
                r.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry.as_secs().max(1)),
                );
                return r;
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "rate-limit counters unavailable: device page not limited")
        }
    }
    let response = next.run(request).await;
    if response.status() == StatusCode::BAD_REQUEST
        && let Err(e) = counters.fail_with_limit(&key, now, 60, per_minute).await
    {
        tracing::error!(error = %e, "rate-limit counters unavailable: failure not counted");
    }
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn bursts_then_refuses() {
        let l = RateLimiter::per_minute(3);
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        let retry = l.check("a").unwrap_err();
        assert!(retry >= Duration::from_secs(1));
        assert!(l.check("b").is_ok(), "keys are independent");
    }

    #[test]
    fn keys_are_hashed_to_a_fixed_size() {
        let l = RateLimiter::per_minute(3);
        l.check(&"x".repeat(200_000)).unwrap();
        let b = l.buckets.lock().unwrap();
        assert!(b.keys().all(|k| k.len() == 43));
        assert_eq!(limit_key("u", &"y".repeat(65_536)).len(), 2 + 43);
    }

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().unwrap(), 4000))
    }

    #[test]
    fn right_most_untrusted_hop_behind_trusted_proxies() {
        let p = TrustedProxies::new(
            vec![
                "10.0.0.0/8".parse().unwrap(),
                "192.0.2.1/32".parse().unwrap(),
            ],
            false,
        );
        // A spoofed left-most hop is ignored.
        let h = headers(&["6.6.6.6, 198.51.100.7, 10.1.2.3"]);
        assert_eq!(p.client_ip(peer("10.0.0.1"), &h), "198.51.100.7");
        // Several headers are one list.
        let h = headers(&["6.6.6.6", "198.51.100.8"]);
        assert_eq!(p.client_ip(peer("192.0.2.1"), &h), "198.51.100.8");
        // An untrusted peer's header is ignored.
        let h = headers(&["198.51.100.7"]);
        assert_eq!(p.client_ip(peer("203.0.113.9"), &h), "203.0.113.9");
        // No header: the peer.
        assert_eq!(p.client_ip(peer("10.0.0.1"), &HeaderMap::new()), "10.0.0.1");
        // Garbage stops the walk at the last trusted hop.
        let h = headers(&["198.51.100.7, nonsense, 10.9.9.9"]);
        assert_eq!(p.client_ip(peer("10.0.0.1"), &h), "10.9.9.9");
        // All trusted: the left-most.
        let h = headers(&["10.7.7.7, 10.8.8.8"]);
        assert_eq!(p.client_ip(peer("10.0.0.1"), &h), "10.7.7.7");
        // Ports and IPv4-mapped peers.
        let h = headers(&["198.51.100.9:5555"]);
        assert_eq!(p.client_ip(peer("::ffff:10.0.0.1"), &h), "198.51.100.9");
    }

    #[test]
    fn trust_forwarded_for_trusts_the_peer_only() {
        let p = TrustedProxies::new(Vec::new(), true);
        let h = headers(&["6.6.6.6, 198.51.100.7"]);
        assert_eq!(p.client_ip(peer("203.0.113.9"), &h), "198.51.100.7");
        let p = TrustedProxies::default();
        assert_eq!(p.client_ip(peer("203.0.113.9"), &h), "203.0.113.9");
    }
}
