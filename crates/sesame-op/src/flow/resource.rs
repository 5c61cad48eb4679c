//! RFC 8707 resource indicators: which resource servers a token is for.
//!
//! A client may ask for the resources registered for it
//! ([`Client::allowed_resources`]) at the authorization endpoint and with
//! `client_credentials` and `password`; the grant remembers them, and a later
//! token request (`authorization_code`, `refresh_token`) may narrow them to a
//! subset, never widen them. The access token's audience is then those
//! resources (the JWT `aud`, introspection's `aud`).

use sesame_core::ErrorCode;

use super::{FlowError, OAuthError, Params};
use crate::model::{Client, Grant};
use crate::provider::Provider;

fn invalid_target(description: String) -> FlowError {
    FlowError::OAuth(OAuthError::new(ErrorCode::InvalidTarget, description))
}

/// The `resource` parameters of a request, in order and without repeats.
/// Each must be an absolute URI without a fragment (RFC 8707 §2).
fn parameters(params: &Params) -> Result<Vec<String>, FlowError> {
    let mut resources: Vec<String> = Vec::new();
    for (_, r) in params.0.iter().filter(|(k, _)| k == "resource") {
        let absolute = url::Url::parse(r).is_ok_and(|u| u.fragment().is_none()) && !r.contains('#');
        if !absolute {
            return Err(invalid_target(format!(
                "resource {r:?} must be an absolute URI without a fragment"
            )));
        }
        if !resources.contains(r) {
            resources.push(r.clone());
        }
    }
    Ok(resources)
}

/// The resources a new authorization asks for: each registered for this
/// client, or `invalid_target`.
pub(crate) fn requested(client: &Client, params: &Params) -> Result<Vec<String>, FlowError> {
    let resources = parameters(params)?;
    if let Some(r) = resources
        .iter()
        .find(|r| !client.allowed_resources.contains(r))
    {
        return Err(invalid_target(format!(
            "resource {r:?} is not allowed for this client"
        )));
    }
    Ok(resources)
}

/// The grant for a token request on an existing grant: the resources the
/// request names — each one the grant already has, or `invalid_target` —
/// or, when it names none, all of the grant's.
pub(crate) fn narrowed(grant: &Grant, params: &Params) -> Result<Vec<String>, FlowError> {
    let resources = parameters(params)?;
    if resources.is_empty() {
        return Ok(grant.resources.clone());
    }
    if let Some(r) = resources.iter().find(|r| !grant.resources.contains(r)) {
        return Err(invalid_target(format!(
            "resource {r:?} was not granted by the authorization; a token request may only narrow the resources"
        )));
    }
    Ok(resources)
}

/// S26: the `resource` parameters of a code exchange, checked against the
/// code before it is consumed, so that a bad one is `invalid_target` and the
/// code still works. Only for a request naming resources, and a code of this
/// client (any other is refused once consumed).
pub(crate) async fn check_before_consuming(
    p: &Provider,
    client: &Client,
    code_key: &str,
    params: &Params,
    now: sesame_core::UnixTime,
) -> Result<(), FlowError> {
    if params.0.iter().all(|(k, _)| k != "resource") {
        return Ok(());
    }
    parameters(params)?;
    match p.inner.store.find_code(code_key, now).await? {
        Some(code) if code.grant.client_id == client.client_id => {
            narrowed(&code.grant, params).map(drop)
        }
        _ => Ok(()),
    }
}
