//! The server's users as the provider sees them: login page, login sessions,
//! and claims.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::Environment;
use serde_json::{Map, Value, json};
use sesame_core::{Clock, SessionId, Subject};
use sesame_op::secrets::{token_key, verify_secret};
use sesame_op::store::StoreError;
use sesame_op::{
    Authenticator, AuthnError, ClaimsError, ClaimsSource, EndUser, LoginRequest,
    PasswordAuthenticator, PasswordCheck, PasswordRequest,
};
use sesame_op_sqlx::{LoginSession, SqlStore, User};
use subtle::ConstantTimeEq;

use crate::ratelimit::RateLimiter;

/// The provider's login cookie (distinct from the relying party's).
pub const SESSION_COOKIE: &str = "sesame_session";
/// The login form's CSRF cookie (double submit).
pub const CSRF_COOKIE: &str = "sesame_csrf";

/// What the login pages and the authenticator share.
pub struct LoginState {
    pub(crate) store: Arc<SqlStore>,
    pub(crate) issuer: String,
    pub(crate) secure: bool,
    pub(crate) session_ttl: i64,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) templates: Environment<'static>,
    pub(crate) by_username: RateLimiter,
    pub(crate) by_ip: RateLimiter,
    pub(crate) trust_forwarded_for: bool,
    /// A real Argon2 hash, checked for unknown users so timing does not reveal them.
    pub(crate) decoy_hash: String,
    /// Argon2 checks at once: one per core. Each takes 19 MiB; unbounded, a burst
    /// of logins held hundreds of MiB (measured: 16 at once, 325 MiB resident).
    pub(crate) hashing: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for LoginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginState")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
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
    fn cookie_header(
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
    fn safe_return_to<'a>(&self, return_to: &'a str) -> &'a str {
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

/// The authenticator the provider uses: the login-session cookie.
#[derive(Debug, Clone)]
pub struct ServerAuth(pub Arc<LoginState>);

#[async_trait]
impl Authenticator for ServerAuth {
    async fn current_user(&self, parts: &Parts) -> Result<Option<EndUser>, AuthnError> {
        let Some(value) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        let now = self.0.clock.now();
        let session = self
            .0
            .store
            .find_login_session(&token_key(&value), now)
            .await
            .map_err(|e| AuthnError(e.to_string()))?;
        Ok(session.map(|s| EndUser {
            subject: Subject::new(s.subject),
            auth_time: s.auth_time,
            session_id: SessionId::new(s.sid),
            acr: None,
            amr: Some(vec!["pwd".into()]),
        }))
    }

    fn login_url(&self, request: &LoginRequest) -> String {
        let mut q: Vec<(&str, &str)> = vec![("return_to", request.return_to.as_str())];
        if let Some(hint) = &request.login_hint {
            q.push(("login_hint", hint));
        }
        if !request.client_name.is_empty() {
            q.push(("client", &request.client_name));
        }
        format!(
            "{}/login?{}",
            self.0.issuer,
            serde_urlencoded::to_string(&q).unwrap_or_default()
        )
    }

    async fn logout(&self, parts: &Parts, _user: &EndUser) -> Result<HeaderMap, AuthnError> {
        if let Some(value) = cookie(&parts.headers, SESSION_COOKIE) {
            self.0
                .store
                .delete_login_session(&token_key(&value))
                .await
                .map_err(|e| AuthnError(e.to_string()))?;
        }
        let mut h = HeaderMap::new();
        if let Some(v) = self.0.cookie_header(SESSION_COOKIE, "", 0, "/") {
            h.insert(header::SET_COOKIE, v);
        }
        Ok(h)
    }
}

/// Claims from the user table.
#[derive(Debug, Clone)]
pub struct UserClaims(pub Arc<SqlStore>);

#[async_trait]
impl ClaimsSource for UserClaims {
    async fn claims(&self, subject: &Subject) -> Result<Option<Map<String, Value>>, ClaimsError> {
        let user = self
            .0
            .find_user_by_subject(subject.as_str())
            .await
            .map_err(|e| ClaimsError(e.to_string()))?;
        Ok(user.map(|u| {
            let mut m = Map::new();
            m.insert("preferred_username".into(), json!(u.username));
            if let Some(name) = u.name {
                m.insert("name".into(), json!(name));
            }
            if let Some(email) = u.email {
                m.insert("email".into(), json!(email));
                // Set by an administrator of this provider.
                m.insert("email_verified".into(), json!(true));
            }
            m
        }))
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct LoginQuery {
    #[serde(default)]
    return_to: String,
    #[serde(default)]
    login_hint: Option<String>,
    #[serde(default)]
    client: Option<String>,
}

pub(crate) const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The origin a login's return trip ends at (the client's redirect URI), which
/// the login form's CSP must allow: browsers check `form-action` on every redirect.
fn return_origin(return_to: &str) -> Option<String> {
    let url = url::Url::parse(return_to).ok()?;
    let redirect = url
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")?
        .1
        .into_owned();
    let target = url::Url::parse(&redirect).ok()?;
    let origin = match target.origin() {
        o @ url::Origin::Tuple(..) => o.ascii_serialization(),
        url::Origin::Opaque(_) => format!("{}:", target.scheme()),
    };
    (!origin.contains(['\'', ';', ' ', ','])).then_some(origin)
}

fn page(
    state: &LoginState,
    name: &str,
    status: StatusCode,
    ctx: Value,
    extra: Vec<HeaderValue>,
    csp: &str,
) -> Response {
    let html = state
        .templates
        .get_template(name)
        .and_then(|t| t.render(minijinja::value::Serde(ctx)));
    match html {
        Ok(html) => {
            let mut r = (status, html).into_response();
            let h = r.headers_mut();
            sesame_op::page_headers(h, csp);
            for v in extra {
                h.append(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => {
            tracing::error!(error = %e, template = name, "rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "page rendering failed").into_response()
        }
    }
}

fn login_page(
    state: &LoginState,
    status: StatusCode,
    return_to: &str,
    username: &str,
    client: Option<&str>,
    error: Option<&str>,
) -> Response {
    let csrf = sesame_core::random::token().unwrap_or_default();
    let cookie = state
        .cookie_header(CSRF_COOKIE, &csrf, 3600, "/login")
        .into_iter()
        .collect();
    // After the login the browser goes on to /authorize and from there to the client.
    let csp = match return_origin(return_to) {
        Some(origin) => PAGE_CSP.replace(
            "form-action 'self'",
            &format!("form-action 'self' {origin}"),
        ),
        None => PAGE_CSP.to_owned(),
    };
    page(
        state,
        "login.html",
        status,
        json!({
            "css": sesame_op::STYLESHEET,
            "issuer": state.issuer,
            "action": format!("{}/login", state.issuer),
            "csrf_token": csrf,
            "return_to": return_to,
            "username": username,
            "client_name": client,
            "error": error,
        }),
        cookie,
        &csp,
    )
}

/// `GET /login`
pub(crate) async fn get_login(
    State(state): State<Arc<LoginState>>,
    Query(q): Query<LoginQuery>,
) -> Response {
    let return_to = state.safe_return_to(&q.return_to).to_owned();
    login_page(
        &state,
        StatusCode::OK,
        &return_to,
        q.login_hint.as_deref().unwrap_or(""),
        q.client.as_deref(),
        None,
    )
}

/// The client address rate limits count by: the peer, or the first
/// `X-Forwarded-For` hop behind a trusted proxy.
fn client_ip(state: &LoginState, headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    if state.trust_forwarded_for
        && let Some(first) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
    {
        return first.trim().to_owned();
    }
    peer.map(|p| p.ip().to_string()).unwrap_or_default()
}

/// What checking a username and password found.
pub(crate) enum Credentials {
    /// The password is right.
    Valid(User),
    /// A wrong password, or no such user (the same answer).
    Invalid,
    /// A rate limit refused the attempt; retry after this long.
    Limited(std::time::Duration),
}

impl LoginState {
    /// Checks a username and password, for the login form and for the
    /// password grant alike: the per-address and per-username rate limits
    /// first, then the Argon2 hash off the async workers — against a decoy
    /// hash for an unknown user, so timing does not reveal which names exist.
    pub(crate) async fn check_credentials(
        &self,
        ip: &str,
        username: &str,
        password: String,
    ) -> Result<Credentials, StoreError> {
        if let Err(retry) = self.by_ip.check(ip) {
            return Ok(Credentials::Limited(retry));
        }
        if let Err(retry) = self.by_username.check(&username.to_lowercase()) {
            return Ok(Credentials::Limited(retry));
        }
        let (user, hash) = match self.store.user_credentials(username).await? {
            Some((u, h)) => (Some(u), h),
            None => (None, self.decoy_hash.clone()),
        };
        let ok = match self.hashing.clone().acquire_owned().await {
            Ok(permit) => tokio::task::spawn_blocking(move || {
                let ok = verify_secret(&password, &hash);
                drop(permit);
                ok
            })
            .await
            .unwrap_or(false),
            Err(_) => false,
        };
        Ok(match user.filter(|_| ok) {
            Some(user) => Credentials::Valid(user),
            None => Credentials::Invalid,
        })
    }
}

/// The password grant checks passwords like the login form: the same rate
/// limits (one budget for both), the same hash, the same decoy.
#[async_trait]
impl PasswordAuthenticator for ServerAuth {
    async fn check_password(
        &self,
        parts: &Parts,
        request: PasswordRequest<'_>,
    ) -> Result<PasswordCheck, AuthnError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let ip = client_ip(&self.0, &parts.headers, peer);
        let username = request.username.trim();
        let checked = self
            .0
            .check_credentials(&ip, username, request.password.to_owned())
            .await
            .map_err(|e| AuthnError(e.to_string()))?;
        Ok(match checked {
            Credentials::Valid(user) => {
                tracing::info!(username = %user.username, client_id = request.client_id.as_str(), "password grant");
                PasswordCheck::Valid(Subject::new(user.subject))
            }
            Credentials::Invalid => {
                tracing::info!(username = %username, client_id = request.client_id.as_str(), "failed password grant");
                PasswordCheck::Invalid
            }
            Credentials::Limited(retry) => PasswordCheck::RateLimited {
                retry_after: retry.as_secs().max(1),
            },
        })
    }
}

fn too_many(retry: std::time::Duration) -> Response {
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        "Too many sign-in attempts. Wait a moment and try again.",
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&retry.as_secs().max(1).to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// `POST /login`: `username`, `password`, `csrf_token`, `return_to`.
pub(crate) async fn post_login(
    State(state): State<Arc<LoginState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: Map<String, Value> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    let field = |k: &str| form.get(k).and_then(Value::as_str).unwrap_or("");
    let return_to = state.safe_return_to(field("return_to")).to_owned();
    let username = field("username").trim().to_owned();
    let expected = cookie(&headers, CSRF_COOKIE).unwrap_or_default();
    let presented = field("csrf_token");
    if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(presented.as_bytes())) {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            &return_to,
            &username,
            None,
            Some("The form expired. Please sign in again."),
        );
    }
    let ip = client_ip(&state, &headers, Some(peer));
    let checked = state
        .check_credentials(&ip, &username, field("password").to_owned())
        .await;
    let user = match checked {
        Ok(Credentials::Valid(user)) => user,
        Ok(Credentials::Limited(retry)) => return too_many(retry),
        Err(e) => {
            tracing::error!(error = %e, "user lookup failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "sign-in is unavailable").into_response();
        }
        Ok(Credentials::Invalid) => {
            tracing::info!(username = %username, "failed sign-in");
            return login_page(
                &state,
                StatusCode::UNAUTHORIZED,
                &return_to,
                &username,
                None,
                Some("Wrong username or password."),
            );
        }
    };
    let now = state.clock.now();
    let Ok(value) = sesame_core::random::token() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "randomness failed").into_response();
    };
    let sid = sesame_core::random::token().unwrap_or_default();
    let session = LoginSession {
        subject: user.subject.clone(),
        sid,
        auth_time: now,
        expires_at: now + state.session_ttl,
    };
    if let Err(e) = state
        .store
        .create_login_session(&token_key(&value), &session)
        .await
    {
        tracing::error!(error = %e, "could not store the login session");
        return (StatusCode::SERVICE_UNAVAILABLE, "sign-in is unavailable").into_response();
    }
    // Replace any previous login session of this browser.
    if let Some(old) = cookie(&headers, SESSION_COOKIE) {
        let _ = state.store.delete_login_session(&token_key(&old)).await;
    }
    tracing::info!(username = %user.username, "signed in");
    let mut r = StatusCode::SEE_OTHER.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&return_to) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(v) = state.cookie_header(SESSION_COOKIE, &value, state.session_ttl, "/") {
        h.append(header::SET_COOKIE, v);
    }
    if let Some(v) = state.cookie_header(CSRF_COOKIE, "", 0, "/login") {
        h.append(header::SET_COOKIE, v);
    }
    r
}

/// `GET /`: what this server is, and who is signed in.
pub(crate) async fn home(State(state): State<Arc<LoginState>>, parts: Parts) -> Response {
    let user = ServerAuth(Arc::clone(&state))
        .current_user(&parts)
        .await
        .ok()
        .flatten();
    let username = match user {
        Some(u) => state
            .store
            .find_user_by_subject(u.subject.as_str())
            .await
            .ok()
            .flatten()
            .map(|u| u.username),
        None => None,
    };
    page(
        &state,
        "home.html",
        StatusCode::OK,
        json!({
            "css": sesame_op::STYLESHEET,
            "issuer": state.issuer,
            "discovery": format!("{}{}", state.issuer, sesame_core::WELL_KNOWN_PATH),
            "end_session": format!("{}{}", state.issuer, sesame_op::paths::END_SESSION),
            "username": username,
        }),
        Vec::new(),
        PAGE_CSP,
    )
}

/// The login page templates, with overrides from a directory.
pub(crate) fn templates(dir: Option<&std::path::Path>) -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    for (name, source) in [
        ("login.html", include_str!("../templates/login.html")),
        ("home.html", include_str!("../templates/home.html")),
    ] {
        let source = match dir.map(|d| d.join(name)).filter(|p| p.exists()) {
            Some(p) => std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?,
            None => source.to_owned(),
        };
        env.add_template_owned(name.to_owned(), source)
            .map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(env)
}
