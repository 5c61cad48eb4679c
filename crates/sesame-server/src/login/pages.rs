//! `GET /login`, `POST /login` and `GET /`: the pages a person sees.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sesame_op::Authenticator as _;
use sesame_op::pages::Page;
use sesame_op::secrets::token_key;

use super::client::{LoginClient, login_client, sign_in_csp};
use super::credentials::Credentials;
use super::totp;
use super::{
    CSRF_COOKIE, LoginForm, LoginState, SESSION_COOKIE, ServerAuth, client_ip, cookie,
    pending_login,
};
use crate::accounts::LoginSession;
use crate::ratelimit::{blocked, limit_key, log_name};

#[derive(serde::Deserialize)]
pub(crate) struct LoginQuery {
    #[serde(default)]
    return_to: String,
    #[serde(default)]
    login_hint: Option<String>,
    /// Set by the provider when the user is logged in and only a stronger
    /// authentication context is asked for.
    #[serde(default)]
    step_up: Option<String>,
}

fn login_page(
    state: &LoginState,
    status: StatusCode,
    return_to: &str,
    username: &str,
    client: &LoginClient,
    error: Option<&str>,
) -> Response {
    let csrf = sesame_core::random::token().unwrap_or_default();
    let cookie = state.cookie_header(CSRF_COOKIE, &csrf, 3600, "/login");
    let base = state.issuer.trim_end_matches('/');
    let passkeys = super::passkey::Relying::of(&state.issuer).is_some();
    let csp = sign_in_csp(state, client.origin.as_ref(), passkeys);
    let mut page = Page::new(&state.templates, "login.html")
        .with_status(status)
        .with_csp(csp);
    if let Some(cookie) = cookie {
        page = page.with_cookie(cookie);
    }
    page.render(json!({
        "css": sesame_op::STYLESHEET,
        "issuer": state.issuer,
        "action": format!("{}/login", state.issuer),
        "csrf_token": csrf,
        "return_to": return_to,
        "username": username,
        "client_name": client.name,
        "error": error,
        "passkeys": passkeys,
        "base": base,
        "script": format!("{base}{}", crate::login::SCRIPT_PATH),
        "upstreams": state.upstreams.buttons(return_to),
    }))
}

/// The login page with `message` (a passkey or upstream sign-in that did
/// not complete).
pub(super) async fn login_error(
    state: &LoginState,
    status: StatusCode,
    return_to: &str,
    message: &str,
) -> Response {
    let client = LoginClient {
        name: None,
        ..login_client(state, return_to).await
    };
    login_page(state, status, return_to, "", &client, Some(message))
}

/// Records on the login span the `client_id` in `return_to` (an
/// authorization request), cut to 128 bytes.
fn trace_client(issuer: &str, return_to: &str) {
    let Some(url) = url::Url::parse(issuer)
        .and_then(|base| base.join(return_to))
        .ok()
    else {
        return;
    };
    if let Some((_, id)) = url.query_pairs().find(|(k, _)| k == "client_id") {
        let mut cut = 0;
        let id: String = id
            .chars()
            .take_while(|c| {
                cut += c.len_utf8();
                cut <= 128
            })
            .collect();
        tracing::Span::current().record("client_id", id.as_str());
    }
}

/// Records on the login span how the credentials check ended (never the
/// username or the password).
fn trace_outcome<E>(checked: &Result<Credentials, E>) {
    let outcome = match checked {
        Ok(Credentials::Valid(_)) => "signed_in",
        Ok(Credentials::Invalid) => "wrong_credentials",
        Ok(Credentials::Limited(_)) => "rate_limited",
        Ok(Credentials::Busy) => "busy",
        Err(_) => "error",
    };
    tracing::Span::current().record("outcome", outcome);
}

/// The login page again, when the second step's pending login is gone
/// (expired, or already used by another request).
pub(super) async fn expired_login(state: &LoginState, return_to: &str) -> Response {
    let client = LoginClient {
        name: None,
        ..login_client(state, return_to).await
    };
    let message = "The sign-in expired. Please sign in again.";
    login_page(
        state,
        StatusCode::UNAUTHORIZED,
        return_to,
        "",
        &client,
        Some(message),
    )
}

/// Step-up: the subject of this browser's live login session when that
/// login had no second factor and the user has TOTP now, so that only the
/// code is asked for (the password of the session still counts).
async fn step_up_subject(state: &LoginState, headers: &HeaderMap) -> Option<String> {
    let value = cookie(headers, SESSION_COOKIE)?;
    let session = state
        .accounts
        .find_login_session(&token_key(&value), state.clock.now())
        .await
        .ok()??;
    if session.amr.iter().any(|m| m == "mfa") {
        return None;
    }
    match totp::Factors::of(state, &session.subject).await {
        Ok(f) if f.any() => Some(session.subject),
        _ => None,
    }
}

/// `GET /login`
pub(crate) async fn get_login(
    State(state): State<Arc<LoginState>>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let return_to = state.safe_return_to(&q.return_to).to_owned();
    if q.step_up.as_deref() == Some("1")
        && let Some(subject) = step_up_subject(&state, &headers).await
    {
        return totp::second_step(&state, &subject, &return_to).await;
    }
    let client = login_client(&state, &return_to).await;
    login_page(
        &state,
        StatusCode::OK,
        &return_to,
        q.login_hint.as_deref().unwrap_or(""),
        &client,
        None,
    )
}

/// The login page with `message`, `status` and `Retry-After: seconds`
/// (a sign-in refused before its password was checked).
async fn refusal(
    state: &LoginState,
    status: StatusCode,
    return_to: &str,
    username: &str,
    message: &str,
    seconds: u64,
) -> Response {
    let client = LoginClient {
        name: None,
        ..login_client(state, return_to).await
    };
    let mut r = login_page(state, status, return_to, username, &client, Some(message));
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    r
}

/// `POST /login`: `username`, `password`, `csrf_token`, `return_to`. Its
/// span carries the `client_id` of `return_to` and the outcome, never the
/// username or the password.
#[tracing::instrument(
    name = "sesame.login",
    skip_all,
    fields(client_id = tracing::field::Empty, outcome = tracing::field::Empty)
)]
pub(crate) async fn post_login(
    State(state): State<Arc<LoginState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    form: LoginForm,
) -> Response {
    let (return_to, headers) = (form.return_to.as_str(), &form.headers);
    trace_client(&state.issuer, return_to);
    let username = form.field("username").trim().to_owned();
    if !form.csrf_ok {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            return_to,
            &username,
            &LoginClient {
                name: None,
                ..login_client(&state, return_to).await
            },
            Some("The form expired. Please sign in again."),
        );
    }
    let ip = client_ip(&state, headers, Some(peer));
    let checked = state
        .check_credentials(&ip, &username, form.field("password").to_owned())
        .await;
    trace_outcome(&checked);
    let user = match checked {
        Ok(Credentials::Valid(user)) => user,
        Ok(Credentials::Limited(retry)) => {
            let seconds = retry.as_secs().max(1);
            tracing::info!(user = %log_name(&username), ip = %ip, retry_after = seconds, "sign-in refused: too many failures");
            let message = format!(
                "Too many failed sign-in attempts. Wait {seconds} second{} and try again.",
                if seconds == 1 { "" } else { "s" }
            );
            let status = StatusCode::TOO_MANY_REQUESTS;
            return refusal(&state, status, return_to, &username, &message, seconds).await;
        }
        Ok(Credentials::Busy) => {
            tracing::warn!("sign-in refused: the login queue is full");
            let message = "The server is busy. Try again in a moment.";
            let status = StatusCode::SERVICE_UNAVAILABLE;
            return refusal(&state, status, return_to, &username, message, 1).await;
        }
        Err(e) => {
            tracing::error!(error = %e, "user lookup failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "sign-in is unavailable").into_response();
        }
        Ok(Credentials::Invalid) => {
            tracing::info!(user = %log_name(&username), ip = %ip, "failed sign-in");
            return login_page(
                &state,
                StatusCode::UNAUTHORIZED,
                return_to,
                &username,
                &LoginClient {
                    name: None,
                    ..login_client(&state, return_to).await
                },
                Some("Wrong username or password."),
            );
        }
    };
    match totp::Factors::of(&state, &user.subject).await {
        Ok(f) if f.any() => totp::second_step(&state, &user.subject, return_to).await,
        Ok(_) => {
            signed_in(
                &state,
                headers,
                &user.subject,
                &user.username,
                &["pwd"],
                return_to,
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "second-factor lookup failed");
            (StatusCode::SERVICE_UNAVAILABLE, "sign-in is unavailable").into_response()
        }
    }
}

/// Starts a login session for `subject`, authenticated by `amr` (RFC 8176),
/// replacing the browser's earlier one, and sends the browser on to
/// `return_to`.
pub(crate) async fn signed_in(
    state: &LoginState,
    headers: &HeaderMap,
    subject: &str,
    username: &str,
    amr: &[&str],
    return_to: &str,
) -> Response {
    start_session(state, headers, subject, username, amr, return_to)
        .await
        .0
}

/// As [`signed_in`] for a session that replaces one of the same sign-in
/// (the password change ended it): its `auth_time` and `amr` stay what
/// they were, so the replacement is no fresher and no stronger than the
/// sign-in that was really made.
pub(crate) async fn signed_in_again(
    state: &LoginState,
    headers: &HeaderMap,
    previous: &LoginSession,
    username: &str,
    return_to: &str,
) -> Response {
    let amr: Vec<&str> = previous.amr.iter().map(String::as_str).collect();
    let (r, key) =
        start_session(state, headers, &previous.subject, username, &amr, return_to).await;
    if let Some(key) = key
        && let Err(e) = state
            .accounts
            .set_login_session_auth_time(&key, previous.auth_time)
            .await
    {
        tracing::error!(error = %e, "could not keep the session's auth_time");
        let _ = state.accounts.delete_login_session(&key).await;
        return (StatusCode::SERVICE_UNAVAILABLE, "sign-in is unavailable").into_response();
    }
    r
}

/// As [`signed_in`], also returning the new login session's key (the hash
/// of its cookie) when one was made.
pub(super) async fn start_session(
    state: &LoginState,
    headers: &HeaderMap,
    subject: &str,
    username: &str,
    amr: &[&str],
    return_to: &str,
) -> (Response, Option<String>) {
    let now = state.clock.now();
    let Ok(value) = sesame_core::random::token() else {
        let r = (StatusCode::INTERNAL_SERVER_ERROR, "randomness failed").into_response();
        return (r, None);
    };
    // The provider session id: never empty (an empty one would be shared by
    // every session whose randomness failed). Clients see only a per-client
    // value derived from it (S2).
    let Ok(sid) = sesame_core::random::token() else {
        let r = (StatusCode::INTERNAL_SERVER_ERROR, "randomness failed").into_response();
        return (r, None);
    };
    let session = LoginSession {
        subject: subject.to_owned(),
        sid,
        auth_time: now,
        expires_at: now + state.session_ttl,
        amr: amr.iter().map(|m| (*m).to_owned()).collect(),
    };
    if let Err(e) = state
        .accounts
        .create_login_session(&token_key(&value), &session)
        .await
    {
        tracing::error!(error = %e, "could not store the login session");
        let r = (StatusCode::SERVICE_UNAVAILABLE, "sign-in is unavailable").into_response();
        return (r, None);
    }
    // Replace any previous login session of this browser.
    if let Some(old) = cookie(headers, SESSION_COOKIE) {
        let _ = state.accounts.delete_login_session(&token_key(&old)).await;
    }
    tracing::info!(username = %username, amr = %amr.join(" "), "signed in");
    let mut r = StatusCode::SEE_OTHER.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(return_to) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(v) = state.cookie_header(SESSION_COOKIE, &value, state.session_ttl, "/") {
        h.append(header::SET_COOKIE, v);
    }
    if let Some(v) = state.cookie_header(CSRF_COOKIE, "", 0, "/login") {
        h.append(header::SET_COOKIE, v);
    }
    if let Some(v) = state.cookie_header(totp::PENDING_COOKIE, "", 0, "/login") {
        h.append(header::SET_COOKIE, v);
    }
    (r, Some(token_key(&value)))
}

/// `POST /login/totp`: `totp` (a code or a recovery code), `csrf_token`,
/// `return_to`, with the pending login's cookie.
#[tracing::instrument(name = "sesame.login.totp", skip_all, fields(outcome = tracing::field::Empty))]
pub(crate) async fn post_totp(State(state): State<Arc<LoginState>>, form: LoginForm) -> Response {
    let (return_to, headers) = (form.return_to.as_str(), &form.headers);
    let span = tracing::Span::current();
    if !form.csrf_ok {
        span.record("outcome", "csrf");
        let message = "The form expired. Please try again.";
        return totp::code_page(
            &state,
            StatusCode::FORBIDDEN,
            return_to,
            Some(message),
            None,
        )
        .await;
    }
    let now = state.clock.now();
    let (key, subject) = match pending_login(&state, headers).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            span.record("outcome", "expired");
            return expired_login(&state, return_to).await;
        }
        Err(r) => return r,
    };
    let limit = limit_key("login-totp", &subject);
    let counters = &state.limits.counters;
    match counters.read(&[&limit]).await {
        Ok(c) => {
            if let Some(retry) = c.first().and_then(|c| blocked(c, now)) {
                span.record("outcome", "rate_limited");
                let seconds = retry.as_secs().max(1);
                let message =
                    format!("Too many wrong codes. Wait {seconds} seconds and try again.");
                let mut r = totp::code_page(
                    &state,
                    StatusCode::TOO_MANY_REQUESTS,
                    return_to,
                    Some(&message),
                    None,
                )
                .await;
                if let Ok(v) = axum::http::HeaderValue::from_str(&seconds.to_string()) {
                    r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
                }
                return r;
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "rate-limit counters unavailable: code check not limited");
        }
    }
    match totp::check_code(&state, &subject, form.field("totp"), now).await {
        Ok(totp::Checked::Accepted) => {}
        Ok(totp::Checked::Refused) => {
            span.record("outcome", "wrong_code");
            if let Err(e) = counters
                .fail_with_limit(&limit, now, totp::FAILURE_WINDOW, totp::FAILURES)
                .await
            {
                tracing::error!(error = %e, "rate-limit counters unavailable: failure not counted");
            }
            tracing::info!(user = %crate::ratelimit::log_name(&subject), "wrong second-factor code");
            let message = "That code is not right (or was already used). Try the next one.";
            return totp::code_page(
                &state,
                StatusCode::UNAUTHORIZED,
                return_to,
                Some(message),
                None,
            )
            .await;
        }
        Err(e) => {
            tracing::error!(error = %e, "second-factor check failed");
            return totp::unavailable();
        }
    }
    super::finish_pending_login(&state, headers, (&key, &subject), &totp::AMR, return_to).await
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
            .accounts
            .find_user_by_subject(u.subject.as_str())
            .await
            .ok()
            .flatten()
            .map(|u| u.username),
        None => None,
    };
    Page::new(&state.templates, "home.html").render(json!({
        "css": sesame_op::STYLESHEET,
        "issuer": state.issuer,
        "discovery": format!("{}{}", state.issuer, sesame_core::WELL_KNOWN_PATH),
        "end_session": format!("{}{}", state.issuer, sesame_op::paths::END_SESSION),
        "username": username,
    }))
}
