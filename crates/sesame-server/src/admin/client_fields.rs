//! The checks of single client fields for `clients add` and `clients
//! update`: each returns the value to store, or one `AdminError` line that
//! names the flag.

use sesame_core::{GrantType, JwkSet, JwsAlgorithm, RedirectUri, ResponseType};
use sesame_op::{AuthMethod, Client};

use super::{AdminError, grant_type, signing_algs};

/// Sets the grant and response types (each `None` keeps the stored list)
/// and checks that they go together as OIDC Dynamic Registration §2 says:
/// a response type with `code` needs the `authorization_code` grant, one
/// with `id_token` or `token` but no code needs `implicit`, hybrid ones
/// need both, and each grant needs a response type that uses it.
pub(super) fn set_flows(
    client: &mut Client,
    grants: Option<&Vec<GrantType>>,
    responses: Option<&Vec<ResponseType>>,
) -> Result<(), AdminError> {
    use sesame_op::GrantType as G;
    if let Some(grants) = grants {
        let mut list = Vec::new();
        for g in grants {
            let g = grant_type(*g)?;
            if !list.contains(&g) {
                list.push(g);
            }
        }
        client.grant_types = list;
        if responses.is_none() {
            // New grants, the response types kept: drop those the grants no
            // longer allow (a client_credentials-only client has none).
            let (code, implicit) = (
                client.allows_grant(G::AuthorizationCode),
                client.allows_grant(G::Implicit),
            );
            client.response_types.retain(|r| {
                ResponseType::parse(r)
                    .is_some_and(|r| (!r.has_code() || code) && (!r.needs_implicit() || implicit))
            });
        }
    }
    if let Some(responses) = responses {
        let mut list: Vec<String> = Vec::new();
        for r in responses {
            if !list.iter().any(|s| s == r.as_str()) {
                list.push(r.as_str().to_owned());
            }
        }
        client.response_types = list;
    }
    let responses: Vec<ResponseType> = client
        .response_types
        .iter()
        .filter_map(|r| ResponseType::parse(r))
        .collect();
    for rt in &responses {
        if rt.has_code() && !client.allows_grant(G::AuthorizationCode) {
            return Err(AdminError::invalid(format!(
                "--response-type {:?} needs --grant-type authorization_code",
                rt.as_str()
            )));
        }
        if rt.needs_implicit() && !client.allows_grant(G::Implicit) {
            return Err(AdminError::invalid(format!(
                "--response-type {:?} needs --grant-type implicit (and, for a hybrid type, \
                 authorization_code too)",
                rt.as_str()
            )));
        }
    }
    if client.allows_grant(G::AuthorizationCode) && !responses.iter().any(|r| r.has_code()) {
        return Err(AdminError::invalid(
            "--grant-type authorization_code needs a --response-type with code",
        ));
    }
    if client.allows_grant(G::Implicit) && !responses.iter().any(|r| r.needs_implicit()) {
        return Err(AdminError::invalid(
            "--grant-type implicit needs a --response-type with id_token or token \
             (e.g. --response-type \"id_token token\")",
        ));
    }
    if client.allows_grant(G::ClientCredentials) {
        client.allowed_scopes = client
            .allowed_scopes
            .take()
            .or_else(|| sesame_core::Scopes::parse("").ok());
    }
    Ok(())
}

/// `--request-uri` values: absolute http(s) URLs, at most 512 characters.
pub(super) fn request_uris(uris: &[String]) -> Result<Vec<String>, AdminError> {
    let mut out: Vec<String> = Vec::new();
    for u in uris {
        let ok = u.len() <= 512
            && url::Url::parse(u)
                .is_ok_and(|p| matches!(p.scheme(), "https" | "http") && p.host().is_some());
        if !ok {
            return Err(AdminError::invalid(format!(
                "--request-uri {u:?} must be an absolute http(s) URL of at most 512 characters"
            )));
        }
        if !out.contains(u) {
            out.push(u.clone());
        }
    }
    Ok(out)
}

/// `--request-object-alg`: `none` or an algorithm request objects may use.
pub(super) fn request_object_alg(alg: &str) -> Result<String, AdminError> {
    if alg == "none" || JwsAlgorithm::parse(alg).is_some_and(|a| !a.is_symmetric()) {
        Ok(alg.to_owned())
    } else {
        Err(AdminError::unknown(
            "--request-object-alg",
            alg,
            std::iter::once("none").chain(signing_algs().map(JwsAlgorithm::as_str)),
        ))
    }
}

pub(super) fn client_jwks(value: &serde_json::Value) -> Result<JwkSet, AdminError> {
    sesame_op::model::public_jwks(value).map_err(|e| AdminError::invalid(format!("--jwks: {e}")))
}

pub(super) fn parse_uris(uris: &[String], flag: &str) -> Result<Vec<RedirectUri>, AdminError> {
    uris.iter()
        .map(|u| {
            RedirectUri::new(u.clone()).map_err(|e| AdminError::invalid(format!("{flag}: {e}")))
        })
        .collect()
}

pub(super) fn add_resources(client: &mut Client, resources: &[String]) -> Result<(), AdminError> {
    for r in resources {
        let absolute = url::Url::parse(r).is_ok_and(|u| u.fragment().is_none()) && !r.contains('#');
        if !absolute {
            return Err(AdminError::invalid(format!(
                "--resource {r:?} must be an absolute URI without a fragment"
            )));
        }
        if !client.allowed_resources.contains(r) {
            client.allowed_resources.push(r.clone());
        }
    }
    Ok(())
}

/// A `private_key_jwt` client needs its public keys.
pub(super) fn check_keys(client: &Client) -> Result<(), AdminError> {
    if client.token_endpoint_auth_method == AuthMethod::PrivateKeyJwt
        && client.jwks.is_none()
        && client.jwks_uri.is_none()
    {
        return Err(AdminError::invalid(
            "--auth-method private_key_jwt needs --jwks FILE (the client's public JWK Set) or --jwks-uri URL",
        ));
    }
    Ok(())
}

/// `--jwks-uri`: an absolute http(s) URL (fetched through the outbound
/// guard when a signature needs it).
pub(super) fn jwks_uri(uri: &str) -> Result<String, AdminError> {
    let ok = uri.len() <= 2048
        && url::Url::parse(uri).is_ok_and(|p| {
            matches!(p.scheme(), "https" | "http") && p.host().is_some() && p.fragment().is_none()
        });
    if ok {
        Ok(uri.to_owned())
    } else {
        Err(AdminError::invalid(format!(
            "--jwks-uri {uri:?} must be an absolute http(s) URL without a fragment"
        )))
    }
}
