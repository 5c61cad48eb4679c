//! Request objects (OIDC Core §6, RFC 9101): the authorization request's
//! parameters in a JWT, by value (`request`) or by reference
//! (`request_uri`), signed with one of the client's registered keys.
//!
//! The object's members win over the query's; the query fills in the rest
//! (OIDC Core §6.3.3). Unsigned objects (`alg: none`) are accepted only from
//! a client that registered `request_object_signing_alg: none`; a client
//! that registered an algorithm gets only that one. A `request_uri` must be
//! one of the client's registered `request_uris` (compared without the
//! fragment) and is fetched with the outbound guard, a size limit and a
//! time limit.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use sesame_core::{ErrorCode, JwsAlgorithm, UnixTime, UnverifiedJws};

use super::{OAuthError, Params};
use crate::model::Client;
use crate::provider::Provider;

/// The algorithms request objects may be signed with: every asymmetric one
/// the core verifies, as for client assertions; `none` is separate, see
/// [`NONE`].
pub(crate) const REQUEST_OBJECT_ALGS: [JwsAlgorithm; 7] = super::client_auth::ASSERTION_ALGS;

/// The registered `request_object_signing_alg` that allows unsigned objects.
pub(crate) const NONE: &str = "none";

/// The largest request object accepted, by value or fetched.
const MAX_OBJECT: usize = 64 * 1024;
/// How long fetching a `request_uri` may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest `request_uri` (OIDC Core §6.2: 512 ASCII characters).
const MAX_REQUEST_URI: usize = 512;
/// Clock skew allowed on `exp`, `nbf` and `iat`.
const SKEW: UnixTime = 60;

fn bad_object(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequestObject, description)
}

fn bad_uri(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequestUri, description)
}

/// The request's parameters with its request object's merged in, or the
/// error to answer. `params` carries `request` or `request_uri`.
pub(crate) async fn resolve(
    p: &Provider,
    client: &Client,
    params: &Params,
    now: UnixTime,
) -> Result<Params, OAuthError> {
    let jwt = match (params.get("request"), params.get("request_uri")) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::new(
                ErrorCode::InvalidRequest,
                "send request or request_uri, not both",
            ));
        }
        (Some(jwt), None) => jwt.to_owned(),
        (None, Some(uri)) => fetch(p, client, uri).await?,
        (None, None) => return Ok(params.clone()),
    };
    if jwt.len() > MAX_OBJECT {
        return Err(bad_object("the request object is too large"));
    }
    let claims = verify(p, client, jwt.trim()).await?;
    check_claims(p, client, &claims, now)?;
    Ok(merge(params, &claims))
}

/// Fetches a registered `request_uri`.
async fn fetch(p: &Provider, client: &Client, uri: &str) -> Result<String, OAuthError> {
    if uri.len() > MAX_REQUEST_URI {
        return Err(bad_uri("request_uri is longer than 512 characters"));
    }
    let without_fragment = |u: &str| u.split('#').next().unwrap_or_default().to_owned();
    if !client
        .request_uris
        .iter()
        .any(|r| without_fragment(r) == without_fragment(uri))
    {
        return Err(bad_uri(
            "request_uri is not one of the client's registered request_uris",
        ));
    }
    let body = crate::outbound::fetch_limited(
        &p.inner.http,
        uri,
        p.inner.settings.allow_private_outbound,
        "application/oauth-authz-req+jwt, application/jwt",
        MAX_OBJECT,
        FETCH_TIMEOUT,
    )
    .await
    .map_err(|e| {
        tracing::info!(client_id = %client.client_id.as_str(), error = %e, "request_uri refused");
        bad_uri(format!("request_uri {e}"))
    })?;
    String::from_utf8(body).map_err(|_| bad_uri("request_uri holds no JWT"))
}

/// The object's claims, its signature checked against the client's keys.
async fn verify(
    p: &Provider,
    client: &Client,
    jwt: &str,
) -> Result<Map<String, Value>, OAuthError> {
    let registered = client.request_object_signing_alg.as_deref();
    if let Some(claims) = unsigned(jwt)? {
        if registered == Some(NONE) {
            return Ok(claims);
        }
        return Err(bad_object(
            "unsigned request objects (alg none) are accepted only from clients registered with request_object_signing_alg none",
        ));
    }
    let jws = UnverifiedJws::parse(jwt)
        .map_err(|e| bad_object(format!("the request object is not a valid JWS: {e}")))?;
    let alg = jws.header().alg;
    if registered.is_some_and(|r| r != alg.as_str()) {
        return Err(bad_object(
            "the request object is not signed with the registered request_object_signing_alg",
        ));
    }
    let keys = p
        .client_keys(client, jws.header().kid.as_deref())
        .await
        .map_err(|e| bad_object(format!("{e}: no key to verify the request object with")))?;
    if keys.is_empty() {
        return Err(bad_object(
            "the client has no registered keys (jwks or jwks_uri) to verify request objects with",
        ));
    }
    let verified = jws
        .verify(&keys, &REQUEST_OBJECT_ALGS, None)
        .map_err(|e| bad_object(format!("the request object's signature is invalid: {e}")))?;
    match verified.claims::<Value>() {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(bad_object(
            "the request object's payload is not a JSON object",
        )),
    }
}

/// The claims of an unsigned (`alg: none`) JWT; `None` when it is not one.
fn unsigned(jwt: &str) -> Result<Option<Map<String, Value>>, OAuthError> {
    let mut parts = jwt.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(None);
    };
    let header: Value = match URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
    {
        Some(h) => h,
        None => return Ok(None),
    };
    if header.get("alg").and_then(Value::as_str) != Some(NONE) {
        return Ok(None);
    }
    if !signature.is_empty() {
        return Err(bad_object(
            "an alg none request object must have an empty signature",
        ));
    }
    match URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    {
        Some(Value::Object(m)) => Ok(Some(m)),
        _ => Err(bad_object(
            "the request object's payload is not a JSON object",
        )),
    }
}

/// `iss`, `aud`, `client_id` and the time claims, where present.
fn check_claims(
    p: &Provider,
    client: &Client,
    claims: &Map<String, Value>,
    now: UnixTime,
) -> Result<(), OAuthError> {
    let id = client.client_id.as_str();
    if claims.contains_key("request") || claims.contains_key("request_uri") {
        return Err(bad_object(
            "a request object must not contain request or request_uri",
        ));
    }
    if let Some(v) = claims.get("client_id")
        && v.as_str() != Some(id)
    {
        return Err(bad_object(
            "the request object's client_id is not the request's",
        ));
    }
    if let Some(v) = claims.get("iss")
        && v.as_str() != Some(id)
    {
        return Err(bad_object("the request object's iss must be the client_id"));
    }
    if let Some(aud) = claims.get("aud") {
        let issuer = p.inner.issuer.as_str();
        let ok = match aud {
            Value::String(s) => s == issuer,
            Value::Array(a) => a.iter().any(|v| v.as_str() == Some(issuer)),
            _ => false,
        };
        if !ok {
            return Err(bad_object("the request object's aud must be the issuer"));
        }
    }
    let time = |name: &str| claims.get(name).map(Value::as_i64);
    match time("exp") {
        Some(Some(exp)) if exp + SKEW <= now => {
            return Err(bad_object("the request object has expired"));
        }
        Some(None) => return Err(bad_object("exp must be a number")),
        _ => {}
    }
    match time("nbf") {
        Some(Some(nbf)) if nbf > now + SKEW => {
            return Err(bad_object("the request object is not valid yet (nbf)"));
        }
        Some(None) => return Err(bad_object("nbf must be a number")),
        _ => {}
    }
    Ok(())
}

/// The parameters as the authorization endpoint reads them: the object's
/// members (strings as they are, other JSON as JSON text), then the query's
/// parameters the object does not have. `request`/`request_uri` are dropped.
/// JWT claims that are not request parameters (`iss`, `aud`, `exp` …) are
/// left out.
fn merge(params: &Params, claims: &Map<String, Value>) -> Params {
    const JWT_ONLY: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];
    let mut out: Vec<(String, String)> = claims
        .iter()
        .filter(|(k, _)| !JWT_ONLY.contains(&k.as_str()))
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect();
    for (k, v) in &params.0 {
        if k != "request" && k != "request_uri" && !claims.contains_key(k) {
            out.push((k.clone(), v.clone()));
        }
    }
    Params(out)
}
