//! The UserInfo endpoint, with RFC 6750 bearer-token rules.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use sesame_core::ErrorCode;

use super::{bearer_error, no_store, parse_form, parse_query};
use crate::flow::tokens_info::{Presented, UserInfo, userinfo as userinfo_flow};
use crate::flow::{FlowError, OAuthError};
use crate::provider::Provider;

/// The access token from the Authorization header (`Bearer`, or `DPoP`:
/// then `true`) or a form body — never the query string; more than one
/// place is an error (RFC 6750 §2).
fn extract(parts: &Parts, body: &Bytes) -> Result<Option<(String, bool)>, OAuthError> {
    let invalid = |d: &str| OAuthError::new(ErrorCode::InvalidRequest, d);
    if parse_query(parts.uri.query()).get("access_token").is_some() {
        return Err(invalid(
            "access tokens are not accepted in the query string",
        ));
    }
    let header = match parts.headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let v = v
                .to_str()
                .map_err(|_| invalid("malformed Authorization header"))?;
            match v.split_once(' ') {
                Some((scheme, token))
                    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
                {
                    Some((token.trim().to_owned(), false))
                }
                Some((scheme, token))
                    if scheme.eq_ignore_ascii_case("dpop") && !token.trim().is_empty() =>
                {
                    Some((token.trim().to_owned(), true))
                }
                _ => {
                    return Err(invalid(
                        "the Authorization header must be a Bearer or DPoP token",
                    ));
                }
            }
        }
    };
    let in_body = if parts.method == Method::POST && !body.is_empty() {
        parse_form(&parts.headers, body)?
            .get("access_token")
            .map(|t| (t.to_owned(), false))
    } else {
        None
    };
    match (header, in_body) {
        (Some(_), Some(_)) => Err(invalid("send the access token in one place only")),
        (h, b) => Ok(h.or(b)),
    }
}

/// The userinfo endpoint (its span records no token).
#[tracing::instrument(name = "sesame_op.userinfo", skip_all)]
pub(super) async fn userinfo(State(p): State<Provider>, parts: Parts, body: Bytes) -> Response {
    let (token, dpop_scheme) = match extract(&parts, &body) {
        Ok(Some(t)) => t,
        Ok(None) => return bearer_error(&p, None),
        Err(e) => return bearer_error(&p, Some(&e)),
    };
    let proof = if dpop_scheme {
        match super::dpop_proof(&p, &parts, crate::paths::USERINFO, Some(&token)).await {
            Ok(Some(proof)) => Some(proof),
            Ok(None) => {
                return dpop_error(
                    &p,
                    &OAuthError::new(
                        ErrorCode::InvalidDpopProof,
                        "the DPoP scheme needs a DPoP proof",
                    ),
                );
            }
            Err(FlowError::OAuth(e)) => return dpop_error(&p, &e),
            Err(_) => {
                return bearer_error(
                    &p,
                    Some(&OAuthError::new(
                        ErrorCode::ServerError,
                        "the server failed",
                    )),
                );
            }
        }
    } else {
        None
    };
    let presented = Presented {
        dpop_scheme,
        proof_jkt: proof.as_ref().map(|d| d.jkt.as_str()),
    };
    let renew = proof.as_ref().and_then(|d| d.renew_nonce.as_deref());
    let r = answer(
        &p,
        userinfo_flow(&p, &token, presented, p.now()).await,
        dpop_scheme,
    );
    super::with_dpop_nonce(r, renew)
}

/// The response to a userinfo request.
fn answer(p: &Provider, outcome: Result<UserInfo, FlowError>, dpop_scheme: bool) -> Response {
    match outcome {
        Err(FlowError::OAuth(e)) if dpop_scheme => dpop_error(p, &e),
        Ok(UserInfo::Json(claims)) => {
            let mut r = axum::Json(claims).into_response();
            no_store(r.headers_mut());
            r
        }
        Ok(UserInfo::Jwt(jwt)) => {
            let mut r = jwt.into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwt"),
            );
            no_store(r.headers_mut());
            r
        }
        Err(FlowError::OAuth(e)) => bearer_error(p, Some(&e)),
        Err(FlowError::RateLimited { .. }) => bearer_error(
            p,
            Some(&OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "too many attempts",
            )),
        ),
        Err(FlowError::Internal(detail)) => {
            tracing::error!(%detail, "userinfo failed");
            bearer_error(
                p,
                Some(&OAuthError::new(
                    ErrorCode::ServerError,
                    "the server failed",
                )),
            )
        }
    }
}

/// A refusal of a DPoP request: 401 with a `DPoP` challenge (RFC 9449 §7.1).
fn dpop_error(p: &Provider, e: &OAuthError) -> Response {
    let mut r = bearer_error(p, Some(e));
    let description = sesame_core::sanitize_description(&e.description);
    let challenge = format!(
        "DPoP algs=\"{}\", error=\"{}\", error_description=\"{description}\"",
        sesame_core::dpop::DPOP_ALGS
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        e.code
    );
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    *r.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
    // RFC 9449 §9: a use_dpop_nonce challenge comes with the nonce to use.
    let nonce = (e.code == ErrorCode::UseDpopNonce)
        .then(|| p.dpop_nonce(p.now()))
        .flatten();
    super::with_dpop_nonce(r, nonce.as_deref())
}
