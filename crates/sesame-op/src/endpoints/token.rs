//! Token, introspection and revocation endpoints.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{flow_error, json_error, no_store, parse_form, with_dpop_nonce};
use crate::flow::{client_auth, grant as token_flow, tokens_info};
use crate::model::Client;
use crate::paths;
use crate::provider::Provider;

pub(super) async fn authenticated(
    p: &Provider,
    parts: &Parts,
    body: &Bytes,
    path: &str,
) -> Result<(Client, crate::flow::Params), Response> {
    let issuer = p.inner.issuer.as_str();
    let form = parse_form(&parts.headers, body).map_err(|e| json_error(&e, issuer))?;
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let client =
        client_auth::authenticate(p, authorization, &form, &p.inner.issuer.join(path), p.now())
            .await
            .map_err(|e| flow_error(e, issuer))?;
    Ok((client, form))
}

/// The token endpoint. Its span carries the grant type and, once
/// authenticated, the client id (never a credential, code or token).
#[tracing::instrument(
    name = "sesame_op.token",
    skip_all,
    fields(grant_type = tracing::field::Empty, client_id = tracing::field::Empty)
)]
pub(super) async fn token(State(p): State<Provider>, parts: Parts, body: Bytes) -> Response {
    // The proof and its nonce are checked before the client authenticates,
    // its jti spent after: a use_dpop_nonce refusal leaves the client's
    // assertion unspent for the retry.
    let unspent = match super::unspent_dpop_proof(&p, &parts, paths::TOKEN, None) {
        Ok(d) => d,
        Err(e) => {
            let nonce = super::nonce_for(&p, &e);
            return with_dpop_nonce(flow_error(e, p.inner.issuer.as_str()), nonce.as_deref());
        }
    };
    let (client, form) = match authenticated(&p, &parts, &body, paths::TOKEN).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let span = tracing::Span::current();
    span.record("client_id", client.client_id.as_str());
    span.record("grant_type", super::span_grant_type(form.get("grant_type")));
    let proof = match super::spend(&p, unspent).await {
        Ok(d) => d,
        Err(e) => return flow_error(e, p.inner.issuer.as_str()),
    };
    let from = crate::authn::RequestInfo::from_parts(&parts);
    let jkt = proof.as_ref().map(|d| d.jkt.as_str());
    let renew = proof.as_ref().and_then(|d| d.renew_nonce.as_deref());
    let request = token_flow::TokenRequest {
        p: &p,
        client: &client,
        form: &form,
        from,
        dpop: jkt,
        now: p.now(),
    };
    match token_flow::token(request).await {
        Ok(tokens) => {
            let mut r = axum::Json(tokens).into_response();
            no_store(r.headers_mut());
            with_dpop_nonce(r, renew)
        }
        Err(e) => with_dpop_nonce(flow_error(e, p.inner.issuer.as_str()), renew),
    }
}

pub(super) async fn introspect(State(p): State<Provider>, parts: Parts, body: Bytes) -> Response {
    let (client, form) = match authenticated(&p, &parts, &body, paths::INTROSPECT).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if client.is_public() {
        return json_error(
            &crate::flow::OAuthError::new(
                sesame_core::ErrorCode::InvalidClient,
                "public clients cannot introspect",
            ),
            p.inner.issuer.as_str(),
        );
    }
    match tokens_info::introspect(&p, &client, &form, p.now()).await {
        Ok(answer) => {
            let mut r = axum::Json(answer).into_response();
            no_store(r.headers_mut());
            r
        }
        Err(e) => flow_error(e, p.inner.issuer.as_str()),
    }
}

pub(super) async fn revoke(State(p): State<Provider>, parts: Parts, body: Bytes) -> Response {
    let (client, form) = match authenticated(&p, &parts, &body, paths::REVOKE).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match tokens_info::revoke(&p, &client, &form, p.now()).await {
        Ok(()) => {
            let mut r = StatusCode::OK.into_response();
            no_store(r.headers_mut());
            r
        }
        Err(e) => flow_error(e, p.inner.issuer.as_str()),
    }
}
