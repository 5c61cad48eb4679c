//! `[rate_limits]`: the keys, their defaults and their checks (the
//! semantics: README, "Rate limits"; `crate::ratelimit`, `crate::login`).

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Rate limits (`[rate_limits]`). Failure counters live in the database
/// (or in Redis when `redis` is set), shared by every instance and kept
/// across restarts; the per-second and registration limits are per process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Failed sign-ins (login form and password grant) for one username in a
    /// minute, across all addresses, after which addresses that have already
    /// failed for it are refused until the minute ends. Addresses with no
    /// failure for it, and so the right password from them, still pass.
    pub login_per_username_per_minute: u32,
    /// Failed sign-ins in a minute from one address, across all usernames,
    /// after which that address is refused until the minute ends.
    pub login_per_ip_per_minute: u32,
    /// Token requests per second for one client, counted only once the
    /// client has authenticated (per process).
    pub token_per_client_per_second: u32,
    /// Requests to the registration endpoints per minute from one IP address (per process).
    pub register_per_ip_per_minute: u32,
    /// Proxies (CIDRs or addresses) whose `X-Forwarded-For` is believed: the
    /// client address is the right-most one in it that is not listed here,
    /// and only when the peer itself is listed.
    pub trusted_proxies: Vec<String>,
    /// `redis://HOST:PORT`: keep the failure counters in Redis instead of the database.
    pub redis: Option<String>,
    /// Failures for one username from one address before each further one
    /// waits: 2^(n - login_backoff_after) seconds after the n-th.
    pub login_backoff_after: u32,
    /// The longest back-off, in seconds.
    pub login_backoff_max_seconds: u64,
    /// Sign-ins waiting for a password hash before more are answered 503 at once.
    pub login_queue: usize,
    /// Failed client authentications at the token endpoint in a minute from
    /// one address, after which it is refused until the minute ends.
    pub token_failures_per_ip_per_minute: u32,
    /// Wrong user codes typed at the device verification page (`/device`) in
    /// a minute from one address, after which it is refused until the minute
    /// ends (RFC 8628 §5.1: guessing bounded per address).
    pub device_failures_per_ip_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            login_per_username_per_minute: 10,
            login_per_ip_per_minute: 60,
            token_per_client_per_second: 200,
            register_per_ip_per_minute: 20,
            trusted_proxies: Vec::new(),
            redis: None,
            login_backoff_after: 5,
            login_backoff_max_seconds: 300,
            login_queue: 64,
            token_failures_per_ip_per_minute: 60,
            device_failures_per_ip_per_minute: 10,
        }
    }
}

impl RateLimits {
    /// `trusted_proxies` as networks (a bare address is one host).
    ///
    /// # Errors
    /// An entry that is neither a CIDR nor an address.
    pub fn proxy_nets(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        ConfigError(format!(
                            "rate_limits.trusted_proxies: {p:?} is not a CIDR like 10.0.0.0/8"
                        ))
                    })
            })
            .collect()
    }

    pub(super) fn check(&self) -> Result<(), ConfigError> {
        self.proxy_nets()?;
        if let Some(url) = &self.redis
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return Err(ConfigError(format!(
                "rate_limits.redis: {url:?} is not a redis:// URL"
            )));
        }
        if self.login_queue == 0 {
            return Err(ConfigError(
                "rate_limits.login_queue must be at least 1".into(),
            ));
        }
        Ok(())
    }
}
