//! Upstream logout (`end_session = true`): when our end_session ends a
//! login session that came from such an upstream, the browser goes on to
//! the upstream's `end_session_endpoint` (with the upstream ID token as
//! `id_token_hint`), and comes back to `/upstream/{name}/logged-out`, which
//! sends it where our end_session meant to.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sesame_op::secrets::token_key;

use super::{Entry, LOGIN_TTL};
use crate::login::{LoginState, SESSION_COOKIE, cookie};

/// Remembers the upstream ID token of the new login session under
/// `session_key`, when its upstream asks for upstream logout and has an
/// `end_session_endpoint`.
pub(super) async fn remember(
    state: &LoginState,
    entry: &Entry,
    client: &sesame_rp::OidcClient,
    session_key: &str,
    id_token: &str,
) {
    if !entry.config.end_session || client.metadata().end_session_endpoint.is_none() {
        return;
    }
    let expires_at = state.clock.now() + state.session_ttl;
    if let Err(e) = state
        .accounts
        .save_upstream_session(session_key, &entry.config.name, id_token, expires_at)
        .await
    {
        tracing::error!(error = %e, "could not remember the upstream session: no upstream logout for it");
    }
}

/// Whether `response` clears the login session cookie (our logout happened).
fn ends_session(response: &Response) -> bool {
    let cleared = format!("{SESSION_COOKIE}=;");
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.starts_with(&cleared)))
}

/// Around `/end_session`: after our logout, on to the upstream's.
pub(crate) async fn after_end_session(
    State(state): State<Arc<LoginState>>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path() != sesame_op::paths::END_SESSION || state.upstreams.entries.is_empty() {
        return next.run(request).await;
    }
    let key = cookie(request.headers(), SESSION_COOKIE).map(|v| token_key(&v));
    let response = next.run(request).await;
    let Some(key) = key.filter(|_| ends_session(&response)) else {
        return response;
    };
    match state
        .accounts
        .take_upstream_session(&key, state.clock.now())
        .await
    {
        Ok(Some((name, id_token))) => match to_upstream(&state, response, &name, &id_token).await {
            Ok(r) | Err(r) => r,
        },
        Ok(None) => response,
        Err(e) => {
            tracing::error!(error = %e, "upstream session lookup failed: no upstream logout");
            response
        }
    }
}

/// `response` (our logout) redirected to the upstream's end_session; `Err`
/// gives back `response` unchanged when that cannot be done.
async fn to_upstream(
    state: &LoginState,
    response: Response,
    name: &str,
    id_token: &str,
) -> Result<Response, Response> {
    let Some(entry) = state.upstreams.get(name) else {
        return Err(response);
    };
    let Ok(client) = state.upstreams.client(entry).await else {
        return Err(response);
    };
    let Some(endpoint) = client.metadata().end_session_endpoint.clone() else {
        return Err(response);
    };
    let then = match response.headers().get(header::LOCATION) {
        Some(l) if response.status().is_redirection() => l.to_str().unwrap_or("/").to_owned(),
        _ => format!("{}/", state.issuer),
    };
    let Ok(logout_state) = sesame_core::random::token() else {
        return Err(response);
    };
    let expires_at = state.clock.now() + LOGIN_TTL;
    if let Err(e) = state
        .accounts
        .save_upstream_logout(&token_key(&logout_state), &then, expires_at)
        .await
    {
        tracing::error!(error = %e, "could not start the upstream logout");
        return Err(response);
    }
    let Ok(mut url) = url::Url::parse(&endpoint) else {
        return Err(response);
    };
    url.query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("client_id", client.client_id().as_str())
        .append_pair(
            "post_logout_redirect_uri",
            &format!("{}/upstream/{name}/logged-out", state.issuer),
        )
        .append_pair("state", &logout_state);
    let Ok(location) = HeaderValue::from_str(url.as_str()) else {
        return Err(response);
    };
    let (mut parts, _) = response.into_parts();
    parts.status = StatusCode::SEE_OTHER;
    parts.headers.insert(header::LOCATION, location);
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    tracing::info!(upstream = %name, "signed out: on to the upstream's logout");
    Ok(Response::from_parts(parts, Body::empty()))
}

/// `GET /upstream/{name}/logged-out?state=…`: back from the upstream's
/// logout, on to where our end_session meant to send the browser.
pub(crate) async fn logged_out(
    State(state): State<Arc<LoginState>>,
    Path(_name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let then = match q.get("state") {
        Some(s) => state
            .accounts
            .take_upstream_logout(&token_key(s), state.clock.now())
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let then = then.unwrap_or_else(|| format!("{}/", state.issuer));
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(&then) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}
