//! Configuration: defaults, then a TOML file, then `SESAME_*` environment
//! variables, then command-line flags.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

mod duration;
mod rate_limits;
mod upstream;
pub use rate_limits::RateLimits;
pub use upstream::{ClaimMapping, DEFAULT_SCOPES, Upstream};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// Who may register clients at `/register` (RFC 7591/7592).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationMode {
    /// No registration endpoint (the default): clients come from `sesame clients add`.
    #[default]
    Off,
    /// Anyone may register a client (OIDC Dynamic Registration's open mode);
    /// such clients are always third-party (their users see the consent page).
    Open,
    /// A registration request needs an initial access token issued by
    /// `sesame clients initial-access-token`.
    Token,
}

/// Whether DPoP proofs must carry a server-provided nonce (RFC 9449 §8, §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DpopNonceMode {
    /// No nonce asked for (the default): every DPoP client works, including
    /// those that do not implement the nonce retry.
    #[default]
    Off,
    /// Every DPoP proof at `/token`, `/par` and `/userinfo` must carry the
    /// nonce the server gives out in `DPoP-Nonce` (`use_dpop_nonce` otherwise);
    /// derived with a key kept in the database, so every instance agrees.
    Required,
}

/// A scope the server adds: the claims it releases.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ScopeConfig {
    /// The claims (standard or custom, `sesame users add --claim`) it releases.
    pub claims: Vec<String>,
}

/// The HTTP listener's timeouts and limits (`[http]`). The defaults are
/// meant to be safe with no proxy in front.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Http {
    /// Seconds a client has to send a request's head (the request line and
    /// headers), counted from the connection's start or, on a keep-alive
    /// connection, from the end of the previous response.
    pub header_timeout_seconds: u64,
    /// Seconds a client has to send a whole request body.
    pub body_timeout_seconds: u64,
    /// Seconds a connection with no request in progress is kept open.
    pub idle_timeout_seconds: u64,
    /// Connections served at once; more wait to be accepted. Never more
    /// than the open-file limit allows (the value in force is logged at start).
    pub max_connections: usize,
    /// Seconds requests in flight get to finish after SIGTERM; the
    /// connections left are then closed.
    pub shutdown_grace_seconds: u64,
}

impl Default for Http {
    fn default() -> Self {
        Self {
            header_timeout_seconds: 10,
            body_timeout_seconds: 30,
            idle_timeout_seconds: 60,
            max_connections: 10_000,
            shutdown_grace_seconds: 30,
        }
    }
}

impl Http {
    fn check(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("header_timeout_seconds", self.header_timeout_seconds),
            ("body_timeout_seconds", self.body_timeout_seconds),
            ("idle_timeout_seconds", self.idle_timeout_seconds),
            ("max_connections", self.max_connections as u64),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("http.{key} must be at least 1")));
            }
        }
        Ok(())
    }
}

/// The `acr` values sign-ins produce (`[acr]`), advertised as
/// `acr_values_supported`, weakest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Acr {
    /// The `acr` of a sign-in with a username and password.
    pub password: String,
    /// The `acr` of a sign-in with a password and a second factor (TOTP or
    /// a recovery code).
    pub mfa: String,
}

impl Default for Acr {
    fn default() -> Self {
        Self {
            password: "urn:sesame:acr:password".into(),
            mfa: "urn:sesame:acr:mfa".into(),
        }
    }
}

impl Acr {
    /// Every value, weakest first.
    pub fn supported(&self) -> Vec<String> {
        vec![self.password.clone(), self.mfa.clone()]
    }
}

/// The server's configuration.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The issuer identifier: the public base URL of the provider (behind a
    /// proxy: the URL users see, e.g. `https://login.example.com`).
    pub issuer: String,
    /// Address to listen on.
    pub listen: String,
    /// Where to serve `/metrics` (Prometheus), e.g. `127.0.0.1:9100`. Off by
    /// default: metrics are never on the public listener (S24).
    pub metrics_listen: Option<String>,
    /// `sqlite://FILE` (default `sqlite://sesame.db`) or `postgres://…`.
    pub database: String,
    /// The key that encrypts signing keys at rest (32 bytes, base64). For
    /// SQLite it defaults to a key file beside the database, created on first use.
    pub encryption_key: Option<String>,
    /// A file holding the encryption key.
    pub encryption_key_file: Option<PathBuf>,
    /// A directory of templates overriding the built-in pages
    /// (`login.html`, `consent.html`, `logout.html`, `error.html`, `form_post.html`).
    pub templates_dir: Option<PathBuf>,
    /// `human` or `json`.
    pub log_format: LogFormat,
    /// Export traces over OTLP/HTTP (protobuf) to this collector, e.g.
    /// `http://127.0.0.1:4318` (traces go to `/v1/traces` under it). Off by
    /// default. The spans name the protocol step and the client id, never a
    /// secret, code, token or password.
    pub otlp_endpoint: Option<String>,
    /// A tracing filter, e.g. `info` or `sesame=debug,info`.
    pub log_level: String,
    /// Rate limits.
    pub rate_limits: RateLimits,
    /// ID token signing algorithms to keep keys for (the first is advertised first).
    pub signing_algs: Vec<String>,
    /// How long a login at the provider lasts, in seconds.
    pub login_session_ttl: i64,
    /// Deprecated: trust the peer, whatever its address, as a proxy
    /// (`rate_limits.trusted_proxies` says which; see the README).
    pub trust_forwarded_for: bool,
    /// Access token lifetime in seconds.
    pub access_token_ttl: i64,
    /// Refresh token lifetime in seconds.
    pub refresh_token_ttl: i64,
    /// Seconds a new signing key is published before `keys rotate` lets it sign.
    pub key_publish_delay: i64,
    /// Scheduled key rotation: every this many seconds (or `"90d"`, `"12h"`,
    /// `"30m"`, `"45s"`) the next key starts signing, the active one retires
    /// (still published until the tokens it signed have expired) and a new
    /// next key is published, by one instance at a time (a lease in the
    /// database). Default 90 days; `0`: only `sesame keys rotate`. At least
    /// `key_publish_delay`.
    #[serde(deserialize_with = "duration::seconds")]
    pub key_rotation_interval: i64,
    /// Offer the resource owner password credentials grant (RFC 6749 §4.3)
    /// to confidential clients registered with `--grant-type password`.
    /// Off by default.
    pub password_grant: bool,
    /// Let back-channel logout (and any later request to a URL a client
    /// chose) reach loopback and private addresses. Off by default: only
    /// public addresses, checked by resolved address when sending (S14).
    /// `sesame demo` turns it on; so does a deployment whose relying parties
    /// listen on a private network.
    pub allow_private_outbound: bool,
    /// Require PKCE on every authorization code request (OAuth 2.1). Off by
    /// default: the RFC 9700 §2.1.1 policy, under which public clients must
    /// send PKCE (S256) and a confidential client may send a `nonce` instead,
    /// as mozilla-django-oidc and pyoidc do on their defaults. Per client:
    /// `sesame clients add --require-pkce`.
    pub require_pkce: bool,
    /// Accept authorization requests only when pushed first to `/par`
    /// (RFC 9126 `require_pushed_authorization_requests`). Off by default;
    /// per client: `sesame clients add --require-par`.
    pub require_par: bool,
    /// Hold every client to a security profile: `"fapi2"` (the FAPI 2.0
    /// Security Profile; see the README's "FAPI 2.0" section). Default none;
    /// per client: `sesame clients add --profile fapi2`. `SESAME_PROFILE`.
    pub profile: Option<sesame_core::SecurityProfile>,
    /// Refuse a confidential client's code request with neither PKCE nor a
    /// nonce. On by default; the OpenID certification plans need it off
    /// (`oidcc-ensure-request-without-nonce-succeeds-for-code-flow`).
    pub require_pkce_or_nonce: bool,
    /// Accept the token endpoint URL as the `aud` of every client's
    /// assertions (OIDC Core §9), not only the issuer's (S15). Off by
    /// default; per client: `clients add --legacy-assertion-audience`.
    pub legacy_assertion_audience: bool,
    /// Dynamic client registration: `off` (default), `open`, or `token`
    /// (initial access tokens from `sesame clients initial-access-token`).
    pub registration: RegistrationMode,
    /// Server-provided DPoP nonces: `off` (default) or `required`
    /// (`SESAME_DPOP_NONCE`).
    pub dpop_nonce: DpopNonceMode,
    /// Scopes beyond the standard ones and `groups`, each with the claims it
    /// releases: `[scopes.department] claims = ["department"]`.
    pub scopes: std::collections::BTreeMap<String, ScopeConfig>,
    /// Seconds a server keeps clients and users' claims in memory (0: off).
    /// Changes made through the CLI, or by another instance on the same
    /// PostgreSQL database, reach a running server within this time.
    pub cache_ttl: u64,
    /// The HTTP listener's timeouts and limits.
    pub http: Http,
    /// The `acr` values of the sign-in methods.
    pub acr: Acr,
    /// Other OpenID Providers people may sign in through (`[[upstream]]`).
    pub upstream: Vec<Upstream>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("issuer", &self.issuer)
            .field("listen", &self.listen)
            .field("metrics_listen", &self.metrics_listen)
            .field("database", &redact_url(&self.database))
            .field(
                "encryption_key",
                &self.encryption_key.as_ref().map(|_| "[redacted]"),
            )
            .field("encryption_key_file", &self.encryption_key_file)
            .field("templates_dir", &self.templates_dir)
            .field("log_format", &self.log_format)
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

/// `otlp_endpoint` must be an http(s) URL, and the binary built with `otlp`.
///
/// # Errors
/// Otherwise.
pub fn check_otlp_endpoint(endpoint: &str) -> Result<(), ConfigError> {
    #[cfg(feature = "otlp")]
    {
        crate::otlp::traces_url(endpoint).map_err(|e| ConfigError(e.to_string()))?;
        Ok(())
    }
    #[cfg(not(feature = "otlp"))]
    {
        Err(ConfigError(format!(
            "otlp_endpoint ({endpoint}): this sesame was built without the `otlp` feature"
        )))
    }
}

/// A database URL with any password replaced.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("redacted"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8000".into(),
            listen: "127.0.0.1:8000".into(),
            metrics_listen: None,
            database: "sqlite://sesame.db".into(),
            encryption_key: None,
            encryption_key_file: None,
            templates_dir: None,
            log_format: LogFormat::Human,
            otlp_endpoint: None,
            log_level: "info".into(),
            rate_limits: RateLimits::default(),
            signing_algs: vec!["RS256".into(), "ES256".into(), "EdDSA".into()],
            login_session_ttl: 8 * 3600,
            trust_forwarded_for: false,
            access_token_ttl: 3600,
            refresh_token_ttl: 30 * 86_400,
            key_publish_delay: 360,
            key_rotation_interval: 90 * 86_400,
            password_grant: false,
            allow_private_outbound: false,
            require_pkce: false,
            require_par: false,
            profile: None,
            require_pkce_or_nonce: true,
            legacy_assertion_audience: false,
            registration: RegistrationMode::Off,
            dpop_nonce: DpopNonceMode::Off,
            scopes: std::collections::BTreeMap::new(),
            cache_ttl: 5,
            http: Http::default(),
            acr: Acr::default(),
            upstream: Vec::new(),
        }
    }
}

const CONFIG_KEYS: &[&str] = &[
    "acr",
    "upstream",
    "key_rotation_interval",
    "otlp_endpoint",
    "require_pkce_or_nonce",
    "legacy_assertion_audience",
    "require_par",
    "profile",
    "allow_private_outbound",
    "scopes",
    "registration",
    "dpop_nonce",
    "require_pkce",
    "metrics_listen",
    "cache_ttl",
    "key_publish_delay",
    "password_grant",
    "issuer",
    "listen",
    "database",
    "encryption_key",
    "encryption_key_file",
    "templates_dir",
    "log_format",
    "log_level",
    "rate_limits",
    "signing_algs",
    "login_session_ttl",
    "trust_forwarded_for",
    "access_token_ttl",
    "refresh_token_ttl",
    "http",
];

/// Flags that override the file and the environment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    /// `--issuer`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// `--listen`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// `--database`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Loads the configuration: defaults < `file` < `SESAME_*` env < `overrides`.
    ///
    /// # Errors
    /// A missing or malformed file, an unknown key, or a bad value.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment
            .merge(
                Env::prefixed("SESAME_")
                    .split("__")
                    // Only configuration keys: other SESAME_* variables belong to the
                    // CLI (SESAME_CONFIG, SESAME_USER_PASSWORD …) or to tests.
                    // The key arrives already split (`RATE_LIMITS.LOGIN_PER_IP…`):
                    // its first segment decides.
                    .filter(|key| {
                        let key = key.as_str().to_ascii_lowercase();
                        let top = key.split(['.']).next().unwrap_or("");
                        let top = top.split("__").next().unwrap_or("");
                        CONFIG_KEYS.contains(&top)
                    }),
            )
            .merge(Serialized::defaults(overrides));
        let config: Config = figment.extract().map_err(|e| ConfigError(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        sesame_core::Issuer::new(self.issuer.clone())
            .map_err(|e| ConfigError(format!("issuer: {e}")))?;
        if self.issuer.ends_with('/') {
            return Err(ConfigError("issuer: remove the trailing slash".into()));
        }
        for (key, acr) in [("password", &self.acr.password), ("mfa", &self.acr.mfa)] {
            if acr.is_empty() || !acr.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ConfigError(format!(
                    "acr.{key}: {acr:?} must be one word of visible ASCII (acr_values are space-separated)"
                )));
            }
        }
        if self.acr.password == self.acr.mfa {
            return Err(ConfigError(
                "acr.mfa must differ from acr.password (a second factor is a stronger context)"
                    .into(),
            ));
        }
        self.listen.parse::<std::net::SocketAddr>().map_err(|_| {
            ConfigError(format!(
                "listen: {:?} is not an address like 127.0.0.1:8000",
                self.listen
            ))
        })?;
        if let Some(m) = &self.metrics_listen {
            m.parse::<std::net::SocketAddr>().map_err(|_| {
                ConfigError(format!(
                    "metrics_listen: {m:?} is not an address like 127.0.0.1:9100"
                ))
            })?;
        }
        for alg in &self.signing_algs {
            match sesame_core::JwsAlgorithm::parse(alg) {
                Some(a) if !a.is_symmetric() => {}
                _ => {
                    return Err(ConfigError(format!(
                        "signing_algs: unsupported algorithm {alg:?}"
                    )));
                }
            }
        }
        for (name, scope) in &self.scopes {
            let token = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\');
            if !token {
                return Err(ConfigError(format!(
                    "scopes: {name:?} is not a scope name (printable ASCII, no spaces, quotes or backslashes)"
                )));
            }
            if name == sesame_core::OPENID || name == sesame_core::OFFLINE_ACCESS {
                return Err(ConfigError(format!(
                    "scopes: {name} is defined by the protocol and cannot be changed"
                )));
            }
            if scope.claims.iter().any(|c| c == "sub") {
                return Err(ConfigError(format!(
                    "scopes.{name}: sub is always released and cannot be listed"
                )));
            }
        }
        if let Some(endpoint) = &self.otlp_endpoint {
            check_otlp_endpoint(endpoint)?;
        }
        if self.key_rotation_interval > 0 && self.key_rotation_interval < self.key_publish_delay {
            return Err(ConfigError(format!(
                "key_rotation_interval ({}s) must be 0 (manual rotation) or at least key_publish_delay ({}s): a next key is published that long before it signs",
                self.key_rotation_interval, self.key_publish_delay
            )));
        }
        if self.signing_algs.is_empty() {
            return Err(ConfigError("signing_algs must not be empty".into()));
        }
        self.rate_limits.check()?;
        upstream::check(&self.upstream)?;
        self.http.check()
    }

    /// Whether cookies should be `Secure` (the issuer is https).
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}

#[cfg(test)]
#[cfg(test)]
mod tests;
