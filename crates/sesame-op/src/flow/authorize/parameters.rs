//! Steps 2 to 4 of the authorization endpoint: response type and mode,
//! scope, resources, prompt, nonce, PKCE, max_age and claims. The client and
//! redirect URI are known, so errors go back to the client.

use serde_json::Value;
use sesame_core::{
    CodeChallenge, ErrorCode, Nonce, PkceMethod, Prompt, PromptError, ResponseMode, ResponseType,
    Scopes, is_valid_verifier,
};

use super::checks::pkce_required;
use super::{Request, Stop};
use crate::flow::{FlowError, Params, resource};
use crate::model::{GrantType, PkceChallenge};
use crate::provider::Provider;

/// What a request asks for, checked.
pub(super) struct Asked {
    pub(super) response_type: ResponseType,
    /// The scopes to grant: the known ones, offline_access only when allowed.
    pub(super) scopes: Scopes,
    /// offline_access is granted, so consent must be asked on this request.
    pub(super) offline: bool,
    pub(super) resources: Vec<String>,
    pub(super) prompt: Vec<Prompt>,
    pub(super) nonce: Option<Nonce>,
    pub(super) pkce: Option<PkceChallenge>,
    pub(super) max_age: Option<i64>,
    pub(super) claims_request: Option<Value>,
    /// `dpop_jkt` (RFC 9449 §10): the DPoP key the code is bound to.
    pub(super) dpop_jkt: Option<String>,
}

pub(super) fn check(
    p: &Provider,
    req: &mut Request,
    params: &Params,
    pushed: bool,
    consent_given: bool,
) -> Result<Asked, Stop> {
    if let Some(name) = params.duplicate() {
        return Err(req.stop(
            ErrorCode::InvalidRequest,
            &format!("{name} was given more than once"),
        ));
    }
    // RFC 9126 §5/§6. A consent answer resumes a request checked before.
    if !pushed && !consent_given && (p.inner.settings.require_par || req.client.require_par) {
        return Err(req.stop(
            ErrorCode::InvalidRequest,
            "authorization requests must be pushed first (PAR, RFC 9126): POST them to the pushed_authorization_request_endpoint",
        ));
    }
    let response_type = response_type(req, params)?;
    let requested = requested_scopes(req, params)?;
    // RFC 8707: the resource servers the tokens are for, registered for the client.
    let resources = match resource::requested(&req.client, params) {
        Ok(r) => r,
        Err(FlowError::OAuth(e)) => return Err(req.stop(e.code, &e.description)),
        Err(e) => return Err(e.into()),
    };
    let prompt = match Prompt::parse_list(params.get("prompt").unwrap_or("")) {
        Ok(p) => p,
        Err(PromptError::NoneWithOthers) => {
            return Err(req.stop(
                ErrorCode::InvalidRequest,
                "prompt=none cannot be combined with other values",
            ));
        }
        Err(_) => return Err(req.stop(ErrorCode::InvalidRequest, "unsupported prompt value")),
    };
    let (scopes, offline) = granted_scopes(p, req, &requested, response_type, &prompt);
    let nonce = params.get("nonce").map(Nonce::new);
    if response_type.has_id_token() && nonce.is_none() {
        return Err(req.stop(
            ErrorCode::InvalidRequest,
            "nonce is required when an ID token is returned from the authorization endpoint",
        ));
    }
    let pkce = pkce(p, req, params)?;
    if response_type.has_code()
        && pkce.is_none()
        && let Some(why) = pkce_required(p, &req.client, nonce.is_some())
    {
        return Err(req.stop(ErrorCode::InvalidRequest, why));
    }
    let max_age = match params.get("max_age").map(str::parse::<i64>) {
        None => None,
        Some(Ok(v)) if v >= 0 => Some(v),
        Some(_) => {
            return Err(req.stop(
                ErrorCode::InvalidRequest,
                "max_age must be a non-negative integer",
            ));
        }
    };
    let claims_request = match params.get("claims").map(serde_json::from_str::<Value>) {
        None => None,
        Some(Ok(v @ Value::Object(_))) => Some(v),
        Some(_) => return Err(req.stop(ErrorCode::InvalidRequest, "claims must be a JSON object")),
    };
    let dpop_jkt = match params.get("dpop_jkt") {
        None => None,
        Some(jkt) if is_thumbprint(jkt) => Some(jkt.to_owned()),
        Some(_) => {
            return Err(req.stop(
                ErrorCode::InvalidRequest,
                "dpop_jkt must be a JWK SHA-256 thumbprint (RFC 7638, base64url)",
            ));
        }
    };
    Ok(Asked {
        response_type,
        scopes,
        offline,
        resources,
        prompt,
        nonce,
        pkce,
        max_age,
        claims_request,
        dpop_jkt,
    })
}

/// Whether `value` has the form of an RFC 7638 SHA-256 thumbprint:
/// 32 bytes in unpadded base64url.
fn is_thumbprint(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The response type's default mode: `query` for `code` (and for a
/// response type still to be refused), `fragment` for the others.
pub(super) fn default_mode(params: &Params) -> ResponseMode {
    params
        .get("response_type")
        .and_then(ResponseType::parse)
        .map_or(ResponseMode::Query, ResponseType::default_mode)
}

/// The response mode asked for (the default when none), with `jwt`
/// resolved (JARM §2.3.4), or why it cannot be used: the query must not
/// carry tokens, plain or in a JWT (JARM §2.3.1 allows `query.jwt` with
/// token response types only when the JWT is encrypted, which Sesame
/// does not do).
pub(super) fn response_mode(params: &Params) -> Result<ResponseMode, &'static str> {
    let default = default_mode(params);
    let Some(asked) = params.get("response_mode") else {
        return Ok(default);
    };
    let mode = ResponseMode::parse(asked)
        .ok_or("unsupported response_mode")?
        .resolve(default);
    match mode {
        ResponseMode::Query if default != ResponseMode::Query => {
            Err("response_mode=query cannot carry tokens; use fragment or form_post")
        }
        ResponseMode::QueryJwt if default != ResponseMode::Query => Err(
            "response_mode=query.jwt cannot carry tokens (JARM §2.3.1); use jwt, fragment.jwt or form_post.jwt",
        ),
        mode => Ok(mode),
    }
}

/// The response type, registered for the client, and a response mode
/// that can carry it (the redirect is already in that mode).
fn response_type(req: &Request, params: &Params) -> Result<ResponseType, Stop> {
    let parsed = params.get("response_type").and_then(ResponseType::parse);
    if let Err(why) = response_mode(params) {
        return Err(req.stop(ErrorCode::InvalidRequest, why));
    }
    let Some(response_type) = parsed else {
        return Err(if params.get("response_type").is_none() {
            req.stop(ErrorCode::InvalidRequest, "response_type is missing")
        } else {
            req.stop(
                ErrorCode::UnsupportedResponseType,
                "unsupported response_type",
            )
        });
    };
    if !req
        .client
        .response_types
        .iter()
        .any(|t| ResponseType::parse(t) == Some(response_type))
    {
        return Err(req.stop(
            ErrorCode::UnauthorizedClient,
            &format!("the client is not registered for response_type={response_type}"),
        ));
    }
    Ok(response_type)
}

/// The scope parameter, checked against the client's allowlist.
fn requested_scopes(req: &Request, params: &Params) -> Result<Scopes, Stop> {
    let Ok(requested) = Scopes::parse(params.get("scope").unwrap_or("")) else {
        return Err(req.stop(ErrorCode::InvalidScope, "scope contains invalid characters"));
    };
    if !requested.contains(sesame_core::OPENID) {
        return Err(req.stop(ErrorCode::InvalidScope, "the openid scope is required"));
    }
    if let Some(allowed) = &req.client.allowed_scopes
        && let Some(bad) = requested
            .iter()
            .find(|s| !allowed.contains(s.as_str()) && s.as_str() != sesame_core::OPENID)
    {
        return Err(req.stop(
            ErrorCode::InvalidScope,
            &format!("the client may not request scope {bad}"),
        ));
    }
    Ok(requested)
}

/// The scopes to grant, and whether offline_access is among them.
///
/// Unknown scopes are ignored. offline_access (OIDC Core §11) is granted
/// only with the user's explicit consent on this request — the consent
/// page is shown even if an older consent exists — or to a first-party
/// (skip_consent) client; silent requests (prompt=none) never get it.
fn granted_scopes(
    p: &Provider,
    req: &Request,
    requested: &Scopes,
    response_type: ResponseType,
    prompt: &[Prompt],
) -> (Scopes, bool) {
    let offline = requested.contains(sesame_core::OFFLINE_ACCESS)
        && req.client.allows_grant(GrantType::RefreshToken)
        && response_type.has_code()
        && !prompt.contains(&Prompt::None);
    let mut scopes = Scopes::new();
    for s in requested.iter() {
        let known = p.inner.scopes.knows(s.as_str());
        if known && (s.as_str() != sesame_core::OFFLINE_ACCESS || offline) {
            scopes.insert(s.clone());
        }
    }
    (scopes, offline)
}

fn pkce(p: &Provider, req: &Request, params: &Params) -> Result<Option<PkceChallenge>, Stop> {
    let (challenge, method) = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, Some(_)) => {
            return Err(req.stop(
                ErrorCode::InvalidRequest,
                "code_challenge_method without code_challenge",
            ));
        }
        (None, None) => return Ok(None),
        (Some(challenge), method) => (challenge, method),
    };
    let method = match method.map(PkceMethod::parse) {
        Some(Some(m)) => m,
        None => PkceMethod::Plain,
        Some(None) => {
            return Err(req.stop(
                ErrorCode::InvalidRequest,
                "unsupported code_challenge_method",
            ));
        }
    };
    if method == PkceMethod::Plain && !crate::profile::allows_plain_pkce(p, &req.client) {
        return Err(req.stop(
            ErrorCode::InvalidRequest,
            "code_challenge_method must be S256",
        ));
    }
    if !is_valid_verifier(challenge) {
        return Err(req.stop(ErrorCode::InvalidRequest, "code_challenge is malformed"));
    }
    Ok(Some(PkceChallenge {
        challenge: CodeChallenge::new(challenge),
        method,
    }))
}
