//! Signing in through another OpenID Provider (`[[upstream]]`): the
//! "Continue with …" buttons of the login page, `GET /upstream/{name}/login`
//! and `GET /upstream/{name}/callback`.
//!
//! The protocol is sesame-rp's, unchanged (its axum-login backend:
//! discovery, state, nonce, PKCE, the callback's checks, ID token and
//! UserInfo validation). What this module adds is where the pending login
//! lives — a row of `sesame_upstream_logins` under the hash of its `state`,
//! bound to a browser cookie, sealed, taken once, expiring with sesame-rp's
//! own limit — and who the upstream identity is here (`users.rs`).

mod logout;
mod record;
mod users;

pub(crate) use logout::{after_end_session, logged_out};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_login::AuthnBackend as _;
use serde_json::Value;
use sesame_op::secrets::token_key;
use sesame_rp::{OidcClient, OidcCredentials, SesameBackend};
use subtle::ConstantTimeEq;
use tokio::sync::OnceCell;

use super::pages::{login_error, start_session};
use super::{LoginState, SESSION_COOKIE, client_ip, cookie};
use crate::accounts::UpstreamLogin;
use crate::config::Upstream;
use crate::ratelimit::{blocked, limit_key};

/// The browser cookie an upstream login is bound to.
pub const UPSTREAM_COOKIE: &str = "sesame_upstream";
/// The cookie's path: only the upstream routes see it.
const COOKIE_PATH: &str = "/upstream";
/// How long a login may take at the upstream, in seconds (sesame-rp's own
/// limit on a pending login is the same).
const LOGIN_TTL: i64 = 600;
/// The `amr` of an upstream sign-in whose upstream `amr` is not trusted.
/// RFC 8176 registers no value for "signed in at another provider"; OIDC
/// Core §2 lets parties agree on values of their own.
pub const FEDERATED_AMR: &str = "fed";

/// The ID token algorithms accepted from an upstream (as `sesame app`'s
/// default): asymmetric only, so a client secret never verifies a token.
const ID_TOKEN_ALGS: [sesame_core::JwsAlgorithm; 5] = [
    sesame_core::JwsAlgorithm::RS256,
    sesame_core::JwsAlgorithm::PS256,
    sesame_core::JwsAlgorithm::ES256,
    sesame_core::JwsAlgorithm::ES384,
    sesame_core::JwsAlgorithm::EdDSA,
];

/// One configured upstream and its client, discovered on first use (an
/// upstream that is down when the server starts does not stop it).
struct Entry {
    config: Upstream,
    secret: String,
    client: OnceCell<OidcClient>,
}

/// The configured upstreams.
#[derive(Default)]
pub(crate) struct Upstreams {
    entries: Vec<Entry>,
    issuer: String,
    clock: Option<Arc<dyn sesame_core::Clock>>,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| &e.config.name))
            .finish()
    }
}

impl Upstreams {
    /// The upstreams of `config` (secrets read now: a missing file stops the start).
    pub(crate) fn new(
        config: &crate::config::Config,
        clock: Arc<dyn sesame_core::Clock>,
    ) -> Result<Self, crate::config::ConfigError> {
        let mut entries = Vec::new();
        for u in &config.upstream {
            entries.push(Entry {
                secret: u.secret()?,
                config: u.clone(),
                client: OnceCell::new(),
            });
        }
        Ok(Self {
            entries,
            issuer: config.issuer.clone(),
            clock: Some(clock),
        })
    }

    fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.config.name == name)
    }

    /// The login page's buttons: (display name, URL) for `return_to`.
    pub(crate) fn buttons(&self, return_to: &str) -> Vec<Value> {
        self.entries
            .iter()
            .map(|e| {
                let q = serde_urlencoded::to_string([("return_to", return_to)]).unwrap_or_default();
                serde_json::json!({
                    "display_name": e.config.display_name,
                    "url": format!("{}/upstream/{}/login?{q}", self.issuer, e.config.name),
                })
            })
            .collect()
    }

    /// The client of `entry`, discovering the upstream the first time
    /// (again on the next request if that fails).
    async fn client(&self, entry: &Entry) -> Result<OidcClient, String> {
        entry
            .client
            .get_or_try_init(|| async {
                let c = &entry.config;
                let issuer =
                    sesame_core::Issuer::new(c.issuer.clone()).map_err(|e| e.to_string())?;
                let redirect = sesame_core::RedirectUri::new(format!(
                    "{}/upstream/{}/callback",
                    self.issuer, c.name
                ))
                .map_err(|e| e.to_string())?;
                let mut b = OidcClient::builder(issuer, c.client_id.clone())
                    .with_name(c.name.clone())
                    .with_client_secret(entry.secret.clone())
                    .with_redirect_uri(redirect)
                    .with_algorithms(ID_TOKEN_ALGS)
                    .with_scopes(c.scopes())
                    .map_err(|e| e.to_string())?;
                if let Some(clock) = &self.clock {
                    b = b.with_clock(Arc::clone(clock));
                }
                b.build().await.map_err(|e| e.to_string())
            })
            .await
            .cloned()
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct StartQuery {
    #[serde(default)]
    return_to: String,
    /// `1`: link the upstream identity to the signed-in account.
    #[serde(default)]
    link: Option<String>,
    /// With `link=1`: the account page's link token (see [`link_token`]).
    #[serde(default)]
    link_token: String,
}

/// The sealing context of a link token: one account's.
fn link_context(subject: &str) -> String {
    format!("upstream-link:{subject}")
}

/// A token that lets `subject`'s browser start linking an upstream identity
/// for the next [`crate::login::FRESH_SECONDS`] seconds: the account page
/// puts it in its link URLs. Without it a page elsewhere could send a
/// signed-in browser to `?link=1` after signing it in at the upstream as
/// someone else (login CSRF there), and link that identity to the account.
pub(crate) fn link_token(state: &LoginState, subject: &str) -> Option<String> {
    state
        .store
        .seal_value(&state.clock.now().to_string(), &link_context(subject))
        .ok()
}

/// Whether `token` is a live link token of `subject`'s.
fn link_token_ok(state: &LoginState, subject: &str, token: &str) -> bool {
    state
        .store
        .open_value(token, &link_context(subject))
        .and_then(|t| t.parse::<i64>().ok())
        .is_some_and(|made| {
            let age = state.clock.now() - made;
            (0..=crate::login::FRESH_SECONDS).contains(&age)
        })
}

fn refused(status: StatusCode, message: &str) -> Response {
    let mut r = (status, message.to_owned()).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The subject of this browser's live login session.
async fn signed_in_subject(state: &LoginState, headers: &HeaderMap) -> Option<String> {
    let value = cookie(headers, SESSION_COOKIE)?;
    state
        .accounts
        .find_login_session(&token_key(&value), state.clock.now())
        .await
        .ok()
        .flatten()
        .map(|s| s.subject)
}

/// Counts a login start from `ip`; `Err` with the seconds to wait when the
/// address is past `login_per_ip_per_minute` (the login form's limit).
async fn count_start(state: &LoginState, ip: &str) -> Result<(), u64> {
    let key = limit_key("upstream-ip", ip);
    let now = state.clock.now();
    let counters = &state.limits.counters;
    match counters.read(&[&key]).await {
        Ok(c) => {
            if let Some(retry) = c.first().and_then(|c| blocked(c, now)) {
                return Err(retry.as_secs().max(1));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "rate-limit counters unavailable: upstream login not limited")
        }
    }
    if let Err(e) = counters
        .fail_with_limit(&key, now, 60, state.limits.per_ip)
        .await
    {
        tracing::error!(error = %e, "rate-limit counters unavailable: upstream login not counted");
    }
    Ok(())
}

/// `GET /upstream/{name}/login?return_to=…[&link=1]`: to the upstream's
/// authorization endpoint, the pending login stored.
pub(crate) async fn start(
    State(state): State<Arc<LoginState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(q): Query<StartQuery>,
) -> Response {
    let Some(entry) = state.upstreams.get(&name) else {
        return refused(StatusCode::NOT_FOUND, "No such sign-in provider.");
    };
    let ip = client_ip(&state, &headers, Some(peer));
    if let Err(seconds) = count_start(&state, &ip).await {
        let mut r = refused(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-ins from your address. Wait a minute and try again.",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return r;
    }
    let return_to = state.safe_return_to(&q.return_to).to_owned();
    let link = match q.link.as_deref() {
        Some("1") => match signed_in_subject(&state, &headers).await {
            Some(s) if link_token_ok(&state, &s, &q.link_token) => Some(s),
            Some(_) => {
                let message = "Start linking from your account page (/account).";
                return login_error(&state, StatusCode::FORBIDDEN, &return_to, message).await;
            }
            None => {
                let message = "Sign in first, then link your account.";
                return login_error(&state, StatusCode::UNAUTHORIZED, &return_to, message).await;
            }
        },
        _ => None,
    };
    match begin(&state, entry, &headers, &return_to, link).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(upstream = %name, error = %e, "upstream sign-in could not start");
            let message = format!(
                "Signing in with {} is unavailable right now.",
                entry.config.display_name
            );
            login_error(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                &return_to,
                &message,
            )
            .await
        }
    }
}

/// Starts sesame-rp's login and stores it: the redirect to the upstream.
async fn begin(
    state: &LoginState,
    entry: &Entry,
    headers: &HeaderMap,
    return_to: &str,
    link: Option<String>,
) -> Result<Response, String> {
    let client = state.upstreams.client(entry).await?;
    let backend = backend(state, entry, client, None);
    let (session, store) = record::fresh();
    let mut url = backend
        .start_login(&session, None, return_to)
        .await
        .map_err(|e| e.to_string())?;
    // Linking: the upstream asks who is there even if its session is live
    // (a page that signed this browser in at the upstream as someone else
    // must not get that identity linked by the user's own click).
    if link.is_some() && !url.contains("prompt=") {
        url.push_str("&prompt=login");
    }
    let data = record::export(&session, &store).await?;
    let state_param = url::Url::parse(&url)
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "state")
                .map(|(_, v)| v.into_owned())
        })
        .ok_or("the authorization URL carries no state")?;
    let browser = match cookie(headers, UPSTREAM_COOKIE).filter(|v| v.len() >= 32) {
        Some(v) => v,
        None => sesame_core::random::token().map_err(|e| e.to_string())?,
    };
    let login = UpstreamLogin {
        browser_key: token_key(&browser),
        upstream: entry.config.name.clone(),
        link_subject: link,
        data,
        expires_at: state.clock.now() + LOGIN_TTL,
    };
    state
        .accounts
        .save_upstream_login(&token_key(&state_param), &login)
        .await
        .map_err(|e| e.to_string())?;
    let mut r = StatusCode::SEE_OTHER.into_response();
    let h = r.headers_mut();
    h.insert(
        header::LOCATION,
        HeaderValue::from_str(&url).map_err(|e| e.to_string())?,
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(v) = state.cookie_header(UPSTREAM_COOKIE, &browser, LOGIN_TTL, COOKIE_PATH) {
        h.append(header::SET_COOKIE, v);
    }
    Ok(r)
}

fn backend(
    state: &LoginState,
    entry: &Entry,
    client: OidcClient,
    link: Option<String>,
) -> SesameBackend {
    SesameBackend::new(
        client,
        users::UpstreamUsers {
            accounts: state.accounts.clone(),
            upstream: entry.config.clone(),
            link,
            now: state.clock.now(),
        },
    )
}

/// The `amr` of the local session: the upstream's (RFC 8176 words only)
/// when `trust_amr`, else [`FEDERATED_AMR`].
fn session_amr(entry: &Entry, claims: &serde_json::Map<String, Value>) -> Vec<String> {
    if entry.config.trust_amr
        && let Some(Value::Array(amr)) = claims.get("amr")
    {
        let words: Vec<String> = amr
            .iter()
            .filter_map(Value::as_str)
            .filter(|w| {
                !w.is_empty() && w.len() <= 32 && w.bytes().all(|b| b.is_ascii_alphanumeric())
            })
            .map(str::to_owned)
            .take(8)
            .collect();
        if !words.is_empty() {
            return words;
        }
    }
    vec![FEDERATED_AMR.to_owned()]
}

/// `GET /upstream/{name}/callback`: the pending login taken (whatever the
/// outcome), its browser checked, sesame-rp's checks, the local account,
/// the local login session.
#[tracing::instrument(name = "sesame.login.upstream", skip_all, fields(upstream = %name, outcome = tracing::field::Empty))]
pub(crate) async fn callback(
    State(state): State<Arc<LoginState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let span = tracing::Span::current();
    let Some(entry) = state.upstreams.get(&name) else {
        return refused(StatusCode::NOT_FOUND, "No such sign-in provider.");
    };
    let query = query.unwrap_or_default();
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let expired = |outcome: &'static str| {
        span.record("outcome", outcome);
        let state = Arc::clone(&state);
        async move {
            let message = "The sign-in expired or was already used. Please sign in again.";
            login_error(&state, StatusCode::BAD_REQUEST, "/", message).await
        }
    };
    let Some(state_param) = params.get("state").filter(|s| !s.is_empty()) else {
        return expired("no_state").await;
    };
    let taken = match state
        .accounts
        .take_upstream_login(&token_key(state_param), state.clock.now())
        .await
    {
        Ok(Some(t)) => t,
        Ok(None) => return expired("unknown_state").await,
        Err(e) => {
            tracing::error!(error = %e, "upstream login lookup failed");
            return refused(StatusCode::SERVICE_UNAVAILABLE, "sign-in is unavailable");
        }
    };
    let browser = cookie(&headers, UPSTREAM_COOKIE)
        .map(|v| token_key(&v))
        .unwrap_or_default();
    let same_browser = !browser.is_empty()
        && bool::from(browser.as_bytes().ct_eq(taken.browser_key.as_bytes()))
        && taken.upstream == name;
    if !same_browser {
        tracing::warn!(
            "upstream callback refused: not the browser (or the upstream) that started it"
        );
        return expired("other_browser").await;
    }
    finish(&state, entry, &headers, &query, taken).await
}

/// sesame-rp's verification and the local account, then the session.
async fn finish(
    state: &LoginState,
    entry: &Entry,
    headers: &HeaderMap,
    query: &str,
    taken: UpstreamLogin,
) -> Response {
    let span = tracing::Span::current();
    let display = &entry.config.display_name;
    let failed = |outcome: &'static str, status: StatusCode, message: String| {
        span.record("outcome", outcome);
        async move { login_error(state, status, "/", &message).await }
    };
    let session = match record::import(&taken.data) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "upstream login unreadable");
            let message = "The sign-in expired or was already used. Please sign in again.";
            return failed("unreadable", StatusCode::BAD_REQUEST, message.into()).await;
        }
    };
    let client = match state.upstreams.client(entry).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "upstream discovery failed");
            let message = format!("Signing in with {display} is unavailable right now.");
            return failed("unavailable", StatusCode::SERVICE_UNAVAILABLE, message).await;
        }
    };
    let link = taken.link_subject.clone();
    // A link completes only in the session that started it, still live
    // (not after that session was signed out, everywhere or here).
    if let Some(subject) = &link
        && signed_in_subject(state, headers).await.as_ref() != Some(subject)
    {
        let message = "Your session ended while linking: sign in and link again.".to_owned();
        return failed("link_session_ended", StatusCode::FORBIDDEN, message).await;
    }
    let creds = OidcCredentials::from_query(session, query);
    let verify = backend(state, entry, client.clone(), link);
    let user = match verify.authenticate(creds).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            let message = format!("Your {display} account may not sign in here.");
            return failed("refused", StatusCode::FORBIDDEN, message).await;
        }
        Err(e) => {
            tracing::warn!(error = %e, "upstream sign-in refused");
            let message = format!("Signing in with {display} failed. Please try again.");
            return failed("invalid", StatusCode::BAD_REQUEST, message).await;
        }
    };
    let return_to = state
        .safe_return_to(user.next.as_deref().unwrap_or("/"))
        .to_owned();
    let username = match state.accounts.find_user_by_subject(&user.user_id).await {
        Ok(Some(u)) => u.username,
        _ => String::new(),
    };
    let amr = session_amr(entry, &user.claims);
    let amr: Vec<&str> = amr.iter().map(String::as_str).collect();
    span.record("outcome", "signed_in");
    let (response, key) =
        start_session(state, headers, &user.user_id, &username, &amr, &return_to).await;
    if let (Some(key), Some(tokens)) = (key, &user.tokens) {
        logout::remember(state, entry, &client, &key, tokens.id_token.secret()).await;
    }
    response
}
