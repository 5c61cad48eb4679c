//! The pushed authorization request endpoint (RFC 9126).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::token::authenticated;
use super::{flow_error, no_store};
use crate::flow::par;
use crate::paths;
use crate::provider::Provider;

pub(super) async fn push(State(p): State<Provider>, parts: Parts, body: Bytes) -> Response {
    let (client, form) = match authenticated(&p, &parts, &body, paths::PAR).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match par::push(&p, &client, &form, p.now()).await {
        Ok(answer) => {
            let mut r = (StatusCode::CREATED, axum::Json(answer)).into_response();
            no_store(r.headers_mut());
            r
        }
        Err(e) => flow_error(e, p.inner.issuer.as_str()),
    }
}
