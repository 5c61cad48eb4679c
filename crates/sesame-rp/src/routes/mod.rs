//! The relying party's routes: login, callback, logout, back-channel logout.
//! One provider's router is here; several providers' (under `/{provider}`)
//! is in `many.rs`, over the same handlers.

mod many;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use crate::auth::Clients;
use crate::client::{OidcClient, RoutePaths};
use crate::end_session;
use crate::flow::{CallbackError, LoginError};
use crate::next::is_safe_next;
use crate::page::{escape_html, html_page};
use crate::session::{AUTH_KEY, AuthSession, CSRF_KEY};

impl OidcClient {
    /// The routes at the configured paths: GET `login`, GET/POST `callback`,
    /// POST `logout`, POST `backchannel_logout`, GET `frontchannel_logout`. Needs a `tower_sessions`
    /// layer around it (see [`crate::session_layer`]).
    pub fn router(&self) -> Router {
        let p = &self.inner.paths;
        Router::new()
            .route(&p.login, get(login))
            .route(&p.callback, get(callback_get).post(callback_post))
            .route(&p.logout, post(logout))
            .route(&p.backchannel_logout, post(backchannel_logout))
            .route(crate::request_object::PATH, get(request_object))
            .route(
                &p.frontchannel_logout,
                get(crate::frontchannel::frontchannel_logout),
            )
            .with_state(self.clone())
    }
}

async fn request_object(
    State(client): State<OidcClient>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let settings = client.inner.request_object.as_ref();
    crate::request_object::serve(settings, &id, client.now())
}

pub(crate) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            r.headers_mut().insert(header::LOCATION, v);
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "invalid redirect").into_response(),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct LoginQuery {
    pub(crate) next: Option<String>,
}

async fn login(
    State(client): State<OidcClient>,
    session: Session,
    Query(q): Query<LoginQuery>,
) -> Response {
    login_with(&client, &session, q).await
}

/// GET login: checks `next`, records the pending login, redirects to the provider.
pub(crate) async fn login_with(client: &OidcClient, session: &Session, q: LoginQuery) -> Response {
    let next = q.next.unwrap_or_else(|| "/".into());
    if !is_safe_next(&next) {
        tracing::info!(provider = %client.name(), "login refused: unsafe next");
        return (
            StatusCode::BAD_REQUEST,
            "next must be a path on this site, like /account",
        )
            .into_response();
    }
    match client.start_login(session, &next, &[], false).await {
        Ok(url) => see_other(&url),
        Err(e) => {
            tracing::error!(provider = %client.name(), error = %e, "could not start a login");
            (StatusCode::BAD_GATEWAY, "the sign-in could not be started").into_response()
        }
    }
}

async fn callback_get(
    State(client): State<OidcClient>,
    session: Session,
    RawQuery(q): RawQuery,
) -> Response {
    let paths = client.paths().clone();
    callback(&client, &paths, &session, q.as_deref().unwrap_or(""), false).await
}

async fn callback_post(
    State(client): State<OidcClient>,
    session: Session,
    body: Bytes,
) -> Response {
    let paths = client.paths().clone();
    // form_post: the provider's page posts here cross-site; CSRF is the state.
    callback(
        &client,
        &paths,
        &session,
        std::str::from_utf8(&body).unwrap_or(""),
        true,
    )
    .await
}

/// GET or POST callback: completes the login, or answers the failure.
pub(crate) async fn callback(
    client: &OidcClient,
    paths: &RoutePaths,
    session: &Session,
    query: &str,
    via_post: bool,
) -> Response {
    let params: Map<String, Value> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    match client.complete_login(session, &params, via_post).await {
        Ok(next) => see_other(&next),
        Err(CallbackError { error, silent }) => {
            if silent {
                // A failed silent re-authentication ends the local session and
                // stops: no automatic retry, so no redirect loop.
                let _ = session.remove_value(AUTH_KEY).await;
            }
            failed(paths, &error)
        }
    }
}

/// The status, the error code of a `login_failed` redirect, and a sentence
/// for the user. Never the error's own text: an ID token's or a provider's
/// answer may be quoted in it.
fn failure(error: &LoginError) -> (StatusCode, &'static str, &'static str) {
    match error {
        LoginError::UnknownState => (
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "This sign-in response was not started in this browser, was already used, or has expired.",
        ),
        LoginError::WrongProvider => (
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "This sign-in response came back for another provider than the one it was started with.",
        ),
        LoginError::MissingCode | LoginError::NotFormPost => (
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The sign-in response is not well-formed.",
        ),
        LoginError::Provider { .. } => (
            StatusCode::UNAUTHORIZED,
            "access_denied",
            "The provider did not sign you in.",
        ),
        LoginError::Refused => (
            StatusCode::FORBIDDEN,
            "access_denied",
            "This account may not sign in here.",
        ),
        LoginError::Token(_) | LoginError::UserInfo(_) | LoginError::Par(_) => (
            StatusCode::BAD_GATEWAY,
            "provider_error",
            "The provider could not be reached or gave an unusable answer.",
        ),
        LoginError::Session(_) | LoginError::Users(_) | LoginError::Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Something went wrong on our side.",
        ),
        // A forged or broken response: the iss parameter, the ID token, the
        // tokens or the userinfo answer failed a check.
        _ => (
            StatusCode::BAD_REQUEST,
            "invalid_token",
            "The provider's response failed this site's checks, so it was not accepted.",
        ),
    }
}

/// A failed sign-in: a page of its own (4xx for what the response got
/// wrong, 5xx for what failed on our side or at the provider), or, with
/// `login_failed` set, a redirect there with `?error=`.
fn failed(paths: &RoutePaths, error: &LoginError) -> Response {
    tracing::warn!(error = %error, "sign-in failed");
    let (status, code, message) = failure(error);
    let code = match error {
        // The provider's own code, when it is one of the spec's words.
        LoginError::Provider { error, .. }
            if !error.is_empty()
                && error.len() <= 64
                && error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
        {
            error.as_str()
        }
        _ => code,
    };
    if let Some(path) = &paths.login_failed {
        let q = serde_urlencoded::to_string([("error", code)]).unwrap_or_default();
        return see_other(&format!("{path}?{q}"));
    }
    let body = format!(
        "<main><h1>Sign-in failed</h1>\n<p>{}</p>\n<p>Error: <code>{}</code></p>\n<p><a href=\"{}\">Try again</a> · <a href=\"{}\">Home</a></p></main>",
        escape_html(message),
        escape_html(code),
        escape_html(&paths.login),
        escape_html(&paths.after_logout),
    );
    html_page(status, "Sign-in failed", &body)
}

async fn logout(
    State(client): State<OidcClient>,
    session: Session,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let paths = client.paths().clone();
    let clients = Clients::One(client);
    logout_with(&clients, &paths, &session, &headers, &body).await
}

/// POST logout: checks the CSRF token, ends the local session, then sends the
/// browser to the end-session endpoint of the provider the user signed in with.
pub(crate) async fn logout_with(
    clients: &Clients,
    paths: &RoutePaths,
    session: &Session,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let presented = if is_form {
        url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "csrf_token")
            .map(|(_, v)| v.into_owned())
    } else {
        None
    };
    let expected: Option<String> = session.get(CSRF_KEY).await.ok().flatten();
    let ok = match (presented, expected) {
        (Some(p), Some(e)) => bool::from(p.as_bytes().ct_eq(e.as_bytes())),
        _ => false,
    };
    if !ok {
        tracing::info!("logout refused: missing or wrong CSRF token");
        return (StatusCode::FORBIDDEN, "logout needs the form's CSRF token").into_response();
    }
    let auth: Option<AuthSession> = session.get(AUTH_KEY).await.ok().flatten();
    if let Err(e) = session.flush().await {
        tracing::error!(error = %e, "could not end the session");
        return (StatusCode::INTERNAL_SERVER_ERROR, "logout failed").into_response();
    }
    let Some(auth) = auth else {
        return see_other(&paths.after_logout);
    };
    let Some(client) = clients.for_session(&auth) else {
        tracing::info!(provider = %auth.provider, "logged out locally (provider not configured)");
        return see_other(&paths.after_logout);
    };
    tracing::info!(provider = %client.name(), subject = %auth.subject, "logged out");
    let Ok(state) = sesame_core::random::token() else {
        tracing::error!("no randomness for the logout state; logged out locally only");
        return see_other(&paths.after_logout);
    };
    match end_session::end_session_url(&client, &auth, &state) {
        Some(url) => {
            // Kept in the fresh session (the old one is gone) for LogoutReturn.
            if let Err(e) = end_session::remember(session, &client, &state).await {
                tracing::warn!(error = %e, "could not keep the logout state");
            }
            see_other(&url)
        }
        None => see_other(&paths.after_logout),
    }
}

fn backchannel_answer(status: StatusCode, body: Value) -> Response {
    let mut r = (status, axum::Json(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn backchannel_logout(State(client): State<OidcClient>, body: Bytes) -> Response {
    backchannel_logout_with(&client, &body).await
}

/// POST back-channel logout: validates the logout token and records the logout.
#[tracing::instrument(name = "sesame_rp.backchannel_logout", skip_all, fields(provider = %client.name()))]
pub(crate) async fn backchannel_logout_with(client: &OidcClient, body: &[u8]) -> Response {
    let token = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned());
    let Some(token) = token else {
        return backchannel_answer(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": "logout_token is missing"}),
        );
    };
    let claims = match client.validate_logout_token(&token).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "back-channel logout token refused");
            return backchannel_answer(
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_request", "error_description": "invalid logout_token"}),
            );
        }
    };
    let registry = &client.inner.logouts;
    if !registry
        .first_use_of_jti(&claims.iss, &claims.jti, claims.exp)
        .await
    {
        tracing::warn!("back-channel logout token replayed");
        return backchannel_answer(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_request", "error_description": "logout_token replayed"}),
        );
    }
    registry
        .record(
            &claims.iss,
            claims.sid.as_ref().map(|s| s.as_str()),
            claims.sub.as_ref().map(|s| s.as_str()),
            client.now(),
        )
        .await;
    // The provider's `sid` is not logged: some providers derive it from their session cookie.
    tracing::info!(
        by_sid = claims.sid.is_some(),
        subject = ?claims.sub.as_ref().map(|s| s.as_str()),
        "back-channel logout recorded"
    );
    backchannel_answer(StatusCode::OK, json!({}))
}
