//! The server's users as the provider sees them: the login page
//! (`pages`), login sessions and claims (`authn`), and the password
//! check shared by the form and the password grant (`credentials`), the
//! TOTP step (`totp`) and sign-in through another provider (`upstream`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse as _, Response};
use minijinja::Environment;
use sesame_core::Clock;
use sesame_op::secrets::token_key;
use sesame_op_sqlx::SqlStore;

use crate::accounts::Accounts;
use crate::ratelimit::{Counters, TrustedProxies};

mod authn;
mod client;
pub(crate) mod credentials;
mod pages;
pub(crate) mod passkey;
mod passkey_login;
pub mod totp;
pub mod upstream;

pub use authn::{ServerAuth, UserClaims};
pub(crate) use pages::{get_login, home, post_login, post_totp, signed_in_again};
pub(crate) use passkey_login::{passkey_options, post_passkey, post_second, second_options};
pub(crate) use upstream::Upstreams;

/// How recent a sign-in must be to change how the user signs in (the
/// account page) or to link another provider's identity.
pub(crate) const FRESH_SECONDS: i64 = 600;
/// Where the WebAuthn script is served.
pub(crate) const SCRIPT_PATH: &str = "/assets/passkey.js";

/// `GET /assets/passkey.js`
pub(crate) async fn script() -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        include_str!("../../assets/passkey.js"),
    )
        .into_response()
}

/// WebAuthn options JSON, `no-store`, with the ceremony cookie `name`.
pub(crate) fn json_with_cookie(
    state: &LoginState,
    options: String,
    name: &str,
    sealed: &str,
    path: &str,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let mut r = (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        options,
    )
        .into_response();
    if let Some(c) = state.cookie_header(name, sealed, passkey::CEREMONY_SECONDS, path) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// The provider's login cookie (distinct from the relying party's).
pub const SESSION_COOKIE: &str = "sesame_session";
/// The login form's CSRF cookie (double submit).
pub const CSRF_COOKIE: &str = "sesame_csrf";

/// What the login pages and the authenticator share.
pub struct LoginState {
    /// The provider's store (jti, consents, grants, sealing).
    pub(crate) store: Arc<SqlStore>,
    /// The server's tables: users, login sessions, factors, upstream links.
    pub(crate) accounts: Accounts,
    pub(crate) issuer: String,
    pub(crate) secure: bool,
    pub(crate) session_ttl: i64,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) templates: Environment<'static>,
    /// The sign-in limits (failures only) and where they are counted.
    pub(crate) limits: LoginLimits,
    /// Whose `X-Forwarded-For` is believed.
    pub(crate) proxies: TrustedProxies,
    /// A real Argon2 hash, checked for unknown users so timing does not reveal them.
    pub(crate) decoy_hash: String,
    /// Argon2 checks at once: one per core. Each takes 19 MiB; unbounded, a burst
    /// of logins held hundreds of MiB (measured: 16 at once, 325 MiB resident).
    pub(crate) hashing: Arc<tokio::sync::Semaphore>,
    /// Sign-ins waiting for `hashing` now (L4).
    pub(crate) waiting: std::sync::atomic::AtomicUsize,
    /// The `acr` of a password sign-in (`[acr] password`).
    pub(crate) password_acr: String,
    /// The `acr` of a sign-in with a second factor (`[acr] mfa`).
    pub(crate) mfa_acr: String,
    /// The providers people may sign in through (`[[upstream]]`).
    pub(crate) upstreams: Upstreams,
}

/// The sign-in limits, from `[rate_limits]`: failures only (see
/// `credentials`).
#[derive(Debug, Clone)]
pub(crate) struct LoginLimits {
    pub(crate) counters: Counters,
    /// Failures for one username across addresses per minute.
    pub(crate) per_username: u32,
    /// Failures from one address across usernames per minute.
    pub(crate) per_ip: u32,
    /// Failures for (username, address) before the back-off starts.
    pub(crate) backoff_after: u32,
    /// The longest back-off, in seconds.
    pub(crate) backoff_max: u64,
    /// Sign-ins that may wait for a hash; more get 503.
    pub(crate) queue: usize,
}

impl LoginLimits {
    pub(crate) fn new(limits: &crate::config::RateLimits, counters: Counters) -> Self {
        Self {
            counters,
            per_username: limits.login_per_username_per_minute,
            per_ip: limits.login_per_ip_per_minute,
            backoff_after: limits.login_backoff_after,
            backoff_max: limits.login_backoff_max_seconds,
            queue: limits.login_queue,
        }
    }
}

impl std::fmt::Debug for LoginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginState")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// Whether `presented` (a form field or header) is the CSRF token in the
/// cookie `name` (double submit; compared in constant time; never when the
/// cookie is missing or empty).
pub(crate) fn csrf_matches(headers: &HeaderMap, name: &str, presented: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    let expected = cookie(headers, name).unwrap_or_default();
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

/// A form post to a sign-in page, as an extractor: its fields, the
/// `return_to` it names (made safe), whether its `csrf_token` matches the
/// cookie (each page refuses a mismatch with its own page), and the
/// request's headers.
pub(crate) struct LoginForm {
    fields: HashMap<String, String>,
    pub(crate) return_to: String,
    pub(crate) csrf_ok: bool,
    pub(crate) headers: HeaderMap,
}

impl LoginForm {
    /// The field `name`, or empty.
    pub(crate) fn field(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
    }
}

impl FromRequest<Arc<LoginState>> for LoginForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Arc<LoginState>) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| e.into_response())?;
        let fields: HashMap<String, String> =
            url::form_urlencoded::parse(&body).into_owned().collect();
        let presented = fields.get("csrf_token").map(String::as_str).unwrap_or("");
        let csrf_ok = csrf_matches(&headers, CSRF_COOKIE, presented);
        let return_to = fields.get("return_to").map(String::as_str).unwrap_or("");
        let return_to = state.safe_return_to(return_to).to_owned();
        Ok(Self {
            fields,
            return_to,
            csrf_ok,
            headers,
        })
    }
}

/// The pending login (after the password, before the second step) named by
/// the browser's cookie: its key and subject, or none; a 503 when the
/// store fails.
pub(crate) async fn pending_login(
    state: &LoginState,
    headers: &HeaderMap,
) -> Result<Option<(String, String)>, Response> {
    let Some(key) = cookie(headers, totp::PENDING_COOKIE).map(|v| token_key(&v)) else {
        return Ok(None);
    };
    match state
        .accounts
        .find_pending_login(&key, state.clock.now())
        .await
    {
        Ok(Some(subject)) => Ok(Some((key, subject))),
        Ok(None) => Ok(None),
        Err(e) => {
            tracing::error!(error = %e, "pending login lookup failed");
            Err(totp::unavailable())
        }
    }
}

/// The second step succeeded: ends the pending login `key` and signs
/// `subject` in with `amr`. One pending login, one session: a second request
/// with the same cookie and another good factor finds it gone (the sign-in
/// expired page).
pub(crate) async fn finish_pending_login(
    state: &LoginState,
    headers: &HeaderMap,
    (key, subject): (&str, &str),
    amr: &[&str],
    return_to: &str,
) -> Response {
    match state.accounts.delete_pending_login(key).await {
        Ok(true) => {}
        Ok(false) => return pages::expired_login(state, return_to).await,
        Err(e) => {
            tracing::error!(error = %e, "could not end the pending login");
            return totp::unavailable();
        }
    }
    tracing::Span::current().record("outcome", "signed_in");
    let username = match state.accounts.find_user_by_subject(subject).await {
        Ok(Some(u)) => u.username,
        _ => String::new(),
    };
    pages::signed_in(state, headers, subject, &username, amr, return_to).await
}

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

impl LoginState {
    pub(crate) fn cookie_header(
        &self,
        name: &str,
        value: &str,
        max_age: i64,
        path: &str,
    ) -> Option<HeaderValue> {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
        ))
        .ok()
    }

    /// `return_to` must lead back to this provider.
    pub(crate) fn safe_return_to<'a>(&self, return_to: &'a str) -> &'a str {
        let ours = return_to
            .strip_prefix(self.issuer.as_str())
            .is_some_and(|rest| rest.starts_with('/') && sesame_rp::is_safe_next(rest));
        if ours || sesame_rp::is_safe_next(return_to) {
            return_to
        } else {
            "/"
        }
    }
}

/// The client address rate limits count by (see [`TrustedProxies::client_ip`]).
pub(crate) fn client_ip(
    state: &LoginState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> String {
    state.proxies.client_ip(peer, headers)
}

/// A template that could not be read or compiled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The override file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The template does not compile.
    #[error("{name}: {source}")]
    Compile {
        /// The template's name.
        name: String,
        /// Why.
        source: minijinja::Error,
    },
}

/// The login page templates, with overrides from a directory.
pub(crate) fn templates(
    dir: Option<&std::path::Path>,
) -> Result<Environment<'static>, TemplateError> {
    let mut env = Environment::new();
    for (name, source) in [
        ("login.html", include_str!("../../templates/login.html")),
        ("home.html", include_str!("../../templates/home.html")),
        ("totp.html", include_str!("../../templates/totp.html")),
        ("account.html", include_str!("../../templates/account.html")),
    ] {
        let source = match dir.map(|d| d.join(name)).filter(|p| p.exists()) {
            Some(path) => std::fs::read_to_string(&path)
                .map_err(|source| TemplateError::Read { path, source })?,
            None => source.to_owned(),
        };
        env.add_template_owned(name.to_owned(), source)
            .map_err(|source| TemplateError::Compile {
                name: name.to_owned(),
                source,
            })?;
    }
    Ok(env)
}
