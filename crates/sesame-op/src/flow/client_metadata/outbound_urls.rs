//! Registered URLs the provider sends requests to: `backchannel_logout_uri`,
//! `request_uris`, `sector_identifier_uri` and `jwks_uri`, checked against
//! the outbound rules (S14).

use serde_json::{Map, Value};
use sesame_core::JwsAlgorithm;
use url::Url;

use super::{OAuthError, bad, is_loopback, string, strings};
use crate::provider::Settings;

/// The provider POSTs logout tokens to this URI, so it is an outbound request
/// whose target the registrant chose (S14): `https` to a public host
/// ([`crate::outbound::check_registered`]; the address is checked again when
/// sending) — unless the operator allows private targets
/// ([`Settings::allow_private_outbound`]: tests, the demo), where
/// `http://127.0.0.1…` is how a local relying party listens.
pub(super) fn backchannel_logout_uri(
    m: &Map<String, Value>,
    settings: &Settings,
) -> Result<Option<String>, OAuthError> {
    let Some(raw) = string(m, "backchannel_logout_uri")? else {
        return Ok(None);
    };
    outbound_url("backchannel_logout_uri", raw, settings, false).map(Some)
}

/// A URL the provider will send requests to, chosen by the registrant
/// (S14): absolute, no user information, `https` to a public host — or
/// `http` on a loopback host where the operator allows private targets.
/// `fragment`: whether a fragment may follow (a `request_uri`'s hash).
fn outbound_url(
    member: &str,
    raw: &str,
    settings: &Settings,
    fragment: bool,
) -> Result<String, OAuthError> {
    let url = Url::parse(raw).map_err(|_| bad(format!("{member} must be an absolute URL")))?;
    if !fragment && (url.fragment().is_some() || raw.contains('#')) {
        return Err(bad(format!("{member} must not contain a fragment")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(format!("{member} must not contain user information")));
    }
    let private = settings.allow_private_outbound;
    if let (false, Err(why)) = (private, crate::outbound::check_registered(&url)) {
        return Err(bad(format!(
            "{member} {why}: the provider sends requests only to public hosts"
        )));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(raw.to_owned()),
        "http" if private && is_loopback(&url) => Ok(raw.to_owned()),
        _ => Err(bad(format!(
            "{member} must use https (or http on a loopback host, where the provider allows private targets)"
        ))),
    }
}

/// `request_uris` and `request_object_signing_alg` (OIDC Registration §2).
pub(super) fn request_objects(
    m: &Map<String, Value>,
    settings: &Settings,
) -> Result<(Vec<String>, Option<String>), OAuthError> {
    let mut list = Vec::new();
    for raw in strings(m, "request_uris")?.unwrap_or_default() {
        // RFC 7591 §3.2.1 lets the server replace what it cannot use, and the
        // response shows what was registered: a value that is not an
        // absolute URL at all is dropped (pyoidc, seeing
        // require_request_uri_registration, sends a relative path on its
        // defaults). A URL that breaks the outbound rules is refused.
        if Url::parse(raw).is_err() {
            tracing::info!(
                "registration: dropped a request_uris value that is not an absolute URL"
            );
            continue;
        }
        if raw.len() > 512 {
            return Err(bad("request_uris must each be at most 512 characters"));
        }
        let uri = outbound_url("request_uris", raw, settings, true)?;
        if !list.contains(&uri) {
            list.push(uri);
        }
    }
    if list.len() > 20 {
        return Err(bad("at most 20 request_uris"));
    }
    let alg = match string(m, "request_object_signing_alg")? {
        None => None,
        Some(crate::flow::request_object::NONE) => {
            Some(crate::flow::request_object::NONE.to_owned())
        }
        Some(name) => {
            let ok = JwsAlgorithm::parse(name)
                .is_some_and(|a| crate::flow::request_object::REQUEST_OBJECT_ALGS.contains(&a));
            if !ok {
                return Err(bad(format!(
                    "request_object_signing_alg {name} is not supported"
                )));
            }
            Some(name.to_owned())
        }
    };
    Ok((list, alg))
}

/// `sector_identifier_uri` (OIDC Registration §2): an https URL to a public
/// host; its host is the pairwise sector, and its document must list every
/// redirect URI (fetched by the registration flow).
pub(super) fn sector_identifier_uri(raw: &str, settings: &Settings) -> Result<String, OAuthError> {
    let uri = outbound_url("sector_identifier_uri", raw, settings, false)?;
    if raw.len() > 2048 {
        return Err(bad("sector_identifier_uri is longer than 2048 characters"));
    }
    Ok(uri)
}

/// `jwks_uri`: an https URL to a public host (fetched when a signature of
/// the client needs its keys).
pub(super) fn jwks_uri(raw: &str, settings: &Settings) -> Result<String, OAuthError> {
    if raw.len() > 2048 {
        return Err(bad("jwks_uri is longer than 2048 characters"));
    }
    outbound_url("jwks_uri", raw, settings, false)
}
