//! The pushed authorization request endpoint (RFC 9126).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::token::authenticated;
use super::{flow_error, no_store, with_dpop_nonce};
use crate::flow::par;
use crate::paths;
use crate::provider::Provider;

pub(super) async fn push(State(p): State<Provider>, parts: Parts, body: Bytes) -> Response {
    // RFC 9449 §10.1: a DPoP proof here binds the code as dpop_jkt does.
    // The proof and its nonce are checked before the client authenticates,
    // its jti spent after: a use_dpop_nonce refusal leaves the client's
    // assertion unspent for the retry.
    let unspent = match super::unspent_dpop_proof(&p, &parts, paths::PAR, None) {
        Ok(d) => d,
        Err(e) => {
            let nonce = super::nonce_for(&p, &e);
            return with_dpop_nonce(flow_error(e, p.inner.issuer.as_str()), nonce.as_deref());
        }
    };
    let (client, form) = match authenticated(&p, &parts, &body, paths::PAR).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let proof = match super::spend(&p, unspent).await {
        Ok(d) => d,
        Err(e) => return flow_error(e, p.inner.issuer.as_str()),
    };
    let jkt = proof.as_ref().map(|d| d.jkt.as_str());
    let renew = proof.as_ref().and_then(|d| d.renew_nonce.as_deref());
    let r = match par::push(&p, &client, &form, jkt, p.now()).await {
        Ok(answer) => {
            let mut r = (StatusCode::CREATED, axum::Json(answer)).into_response();
            no_store(r.headers_mut());
            r
        }
        Err(e) => flow_error(e, p.inner.issuer.as_str()),
    };
    with_dpop_nonce(r, renew)
}
