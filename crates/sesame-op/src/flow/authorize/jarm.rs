//! JWT Secured Authorization Response Mode (JARM, OpenID final): the
//! redirect back to the client, built once for every outcome, and, in the
//! `*.jwt` modes, its parameters sealed in one signed `response` JWT.
//!
//! Encrypted responses (`authorization_encrypted_response_alg`) are
//! declined: registration refuses them with a reason.

use serde_json::{Map, Value, json};
use sesame_core::{JwsAlgorithm, RedirectUri, ResponseMode, UnixTime, jws};

use super::parameters::{default_mode, response_mode};
use super::{AuthorizeOutcome, ClientRedirect};
use crate::flow::{FlowError, Params};
use crate::model::Client;
use crate::provider::Provider;

/// How long a response JWT is good for. JARM §4.1 advises a short `exp`
/// ("e.g. 10 minutes" at most); the browser delivers it in seconds.
const RESPONSE_TTL: i64 = 300;

impl ClientRedirect {
    /// The redirect to `redirect_uri` (registered for `client`) in the
    /// mode the request asks for, or its response type's default when the
    /// mode cannot carry it (the error then says so), with `state` and
    /// `iss` (RFC 9207) on it.
    pub(super) fn new(
        p: &Provider,
        client: &Client,
        redirect_uri: RedirectUri,
        params: &Params,
    ) -> Self {
        let mode = response_mode(params).unwrap_or_else(|_| {
            let default = default_mode(params);
            // A refused JWT mode still gets its errors as a JWT.
            match params.get("response_mode").and_then(ResponseMode::parse) {
                Some(m) if m.is_jwt() => ResponseMode::Jwt.resolve(default),
                _ => default,
            }
        });
        let mut out = Vec::new();
        if let Some(state) = params.get("state") {
            out.push(("state".into(), state.into()));
        }
        out.push(("iss".into(), p.inner.issuer.as_str().into()));
        Self {
            redirect_uri,
            mode,
            params: out,
            client_id: client.client_id.clone(),
            signing_alg: client.authorization_signed_response_alg,
        }
    }
}

/// In a JWT response mode, replaces the redirect's parameters with one
/// `response` JWT (JARM §2.1): `iss`, `aud` (the client), `exp`, `iat` and
/// the parameters (`code`, `state`, tokens, or `error`,
/// `error_description`), signed with the provider's key of the client's
/// `authorization_signed_response_alg`. Every other outcome is unchanged.
pub(super) async fn seal(
    p: &Provider,
    outcome: AuthorizeOutcome,
    now: UnixTime,
) -> Result<AuthorizeOutcome, FlowError> {
    let AuthorizeOutcome::Redirect(mut r) = outcome else {
        return Ok(outcome);
    };
    if !r.mode.is_jwt() {
        return Ok(AuthorizeOutcome::Redirect(r));
    }
    let mut claims = Map::new();
    for (name, value) in r.params.drain(..) {
        claims.insert(name, Value::String(value));
    }
    claims.insert("iss".into(), json!(p.inner.issuer.as_str()));
    claims.insert("aud".into(), json!(r.client_id.as_str()));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + RESPONSE_TTL));
    let key = p.key_ring().await.signer(signing_alg(p, r.signing_alg))?;
    let token =
        jws::sign(&key, Some("JWT"), &claims).map_err(|e| FlowError::Internal(e.to_string()))?;
    r.params.push(("response".into(), token));
    Ok(AuthorizeOutcome::Redirect(r))
}

/// The client's algorithm, else RS256 (JARM §3), else the provider's first
/// when it keeps no RS256 key.
fn signing_alg(p: &Provider, registered: Option<JwsAlgorithm>) -> JwsAlgorithm {
    let algs = &p.inner.settings.signing_algs;
    registered.unwrap_or_else(|| {
        if algs.contains(&JwsAlgorithm::RS256) {
            JwsAlgorithm::RS256
        } else {
            algs.first().copied().unwrap_or(JwsAlgorithm::RS256)
        }
    })
}
