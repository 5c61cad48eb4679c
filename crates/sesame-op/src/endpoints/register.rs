//! Dynamic client registration (RFC 7591) and the client configuration
//! endpoint (RFC 7592). Mounted only when registration is enabled.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use sesame_core::ErrorCode;

use super::{bearer_error, flow_error, json_error, no_store};
use crate::flow::register as register_flow;
use crate::flow::{FlowError, OAuthError};
use crate::provider::Provider;

/// The Bearer token of the Authorization header, if there is one (the
/// initial or registration access token; never taken from the body or query).
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// The request's JSON object (RFC 7591 §3.1: `application/json`).
fn json_object(headers: &HeaderMap, body: &Bytes) -> Result<Map<String, Value>, OAuthError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "the body must be application/json",
        ));
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "the body must be a JSON object",
        )),
    }
}

/// Maps a failure: a refused token is a 401 Bearer challenge (with no error
/// code when no token was sent, RFC 6750 §3.1); everything else is an
/// RFC 7591 §3.2.2 JSON error.
fn failure(p: &Provider, e: FlowError, token_sent: bool) -> Response {
    match e {
        FlowError::OAuth(e) if e.code == ErrorCode::InvalidToken => {
            bearer_error(p, token_sent.then_some(&e))
        }
        e => flow_error(e, p.inner.issuer.as_str()),
    }
}

fn answer(status: StatusCode, body: Map<String, Value>) -> Response {
    let mut r = (status, axum::Json(body)).into_response();
    no_store(r.headers_mut());
    r
}

pub(super) async fn register(State(p): State<Provider>, parts: Parts, body: Bytes) -> Response {
    let token = bearer(&parts.headers);
    if let Err(e) = register_flow::authorize_registration(&p, token.as_deref()).await {
        return failure(&p, e, token.is_some());
    }
    let request = match json_object(&parts.headers, &body) {
        Ok(m) => m,
        Err(e) => return json_error(&e, p.inner.issuer.as_str()),
    };
    match register_flow::register(&p, &request, p.now()).await {
        Ok(info) => answer(StatusCode::CREATED, info),
        Err(e) => failure(&p, e, token.is_some()),
    }
}

pub(super) async fn read(
    State(p): State<Provider>,
    Path(client_id): Path<String>,
    parts: Parts,
) -> Response {
    let token = bearer(&parts.headers);
    match register_flow::authenticate(&p, &client_id, token.as_deref()).await {
        Ok(client) => answer(
            StatusCode::OK,
            register_flow::read(&p, &client, token.as_deref().unwrap_or_default()),
        ),
        Err(e) => failure(&p, e, token.is_some()),
    }
}

pub(super) async fn update(
    State(p): State<Provider>,
    Path(client_id): Path<String>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let token = bearer(&parts.headers);
    let client = match register_flow::authenticate(&p, &client_id, token.as_deref()).await {
        Ok(c) => c,
        Err(e) => return failure(&p, e, token.is_some()),
    };
    let request = match json_object(&parts.headers, &body) {
        Ok(m) => m,
        Err(e) => return json_error(&e, p.inner.issuer.as_str()),
    };
    let token = token.unwrap_or_default();
    match register_flow::update(&p, client, &token, &request).await {
        Ok(info) => answer(StatusCode::OK, info),
        Err(e) => failure(&p, e, true),
    }
}

pub(super) async fn delete(
    State(p): State<Provider>,
    Path(client_id): Path<String>,
    parts: Parts,
) -> Response {
    let token = bearer(&parts.headers);
    let client = match register_flow::authenticate(&p, &client_id, token.as_deref()).await {
        Ok(c) => c,
        Err(e) => return failure(&p, e, token.is_some()),
    };
    match register_flow::delete(&p, &client).await {
        Ok(()) => {
            let mut r = StatusCode::NO_CONTENT.into_response();
            no_store(r.headers_mut());
            r
        }
        Err(e) => failure(&p, e, true),
    }
}
