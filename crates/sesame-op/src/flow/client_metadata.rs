//! Client metadata for dynamic registration: parsed and checked (RFC 7591 §2,
//! OIDC Dynamic Client Registration 1.0 §2), and written back as JSON.
//!
//! The checks only read the request and the provider's settings: nothing here
//! makes an outbound call: `jwks_uri`, `request_uris` and
//! `sector_identifier_uri` are checked like every registrant-chosen URL
//! (public hosts, https); `jwks_uri` is fetched when a signature needs it. The registration flow fetches the sector
//! document ([`crate::flow::register`]); a `request_uri` is fetched only
//! when an authorization request names one.

use serde_json::{Map, Value, json};
use sesame_core::{ErrorCode, JwkSet, JwsAlgorithm, RedirectUri, ResponseType, Scopes};
use url::{Host, Url};

use super::OAuthError;
use super::client_auth::{ASSERTION_ALGS, HMAC_ASSERTION_ALGS};
use crate::claims::ScopeClaims;
use crate::model::{ApplicationType, AuthMethod, Client, GrantType, SubjectType};
use crate::provider::Settings;

/// The longest `client_name` accepted (it is shown on the consent page).
const MAX_CLIENT_NAME: usize = 200;

/// Registered client metadata, checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Metadata {
    pub(crate) redirect_uris: Vec<RedirectUri>,
    pub(crate) response_types: Vec<String>,
    pub(crate) grant_types: Vec<GrantType>,
    pub(crate) application_type: ApplicationType,
    pub(crate) token_endpoint_auth_method: AuthMethod,
    pub(crate) token_endpoint_auth_signing_alg: Option<JwsAlgorithm>,
    pub(crate) id_token_signed_response_alg: JwsAlgorithm,
    pub(crate) userinfo_signed_response_alg: Option<JwsAlgorithm>,
    pub(crate) authorization_signed_response_alg: Option<JwsAlgorithm>,
    pub(crate) jwks: Option<JwkSet>,
    pub(crate) jwks_uri: Option<String>,
    pub(crate) post_logout_redirect_uris: Vec<RedirectUri>,
    pub(crate) backchannel_logout_uri: Option<String>,
    pub(crate) backchannel_logout_session_required: bool,
    pub(crate) client_name: Option<String>,
    pub(crate) scope: Option<Scopes>,
    pub(crate) subject_type: SubjectType,
    pub(crate) request_uris: Vec<String>,
    pub(crate) request_object_signing_alg: Option<String>,
    /// Checked for its form; its document is fetched by the registration flow.
    pub(crate) sector_identifier_uri: Option<String>,
}

impl Metadata {
    /// Writes the metadata onto `client`, replacing every registered member
    /// (omitted ones return to their defaults). Secrets, the registration
    /// access token and the operator's switches (`skip_consent`,
    /// `require_pkce`, `jwt_access_tokens`) are left alone.
    pub(crate) fn apply(self, client: &mut Client) {
        client.redirect_uris = self.redirect_uris;
        client.response_types = self.response_types;
        client.grant_types = self.grant_types;
        client.application_type = self.application_type;
        client.token_endpoint_auth_method = self.token_endpoint_auth_method;
        client.token_endpoint_auth_signing_alg = self.token_endpoint_auth_signing_alg;
        client.id_token_signed_response_alg = self.id_token_signed_response_alg;
        client.userinfo_signed_response_alg = self.userinfo_signed_response_alg;
        client.authorization_signed_response_alg = self.authorization_signed_response_alg;
        client.jwks = self.jwks;
        client.jwks_uri = self.jwks_uri;
        client.post_logout_redirect_uris = self.post_logout_redirect_uris;
        client.backchannel_logout_uri = self.backchannel_logout_uri;
        client.backchannel_logout_session_required = self.backchannel_logout_session_required;
        client.client_name = self.client_name;
        client.allowed_scopes = self.scope;
        client.subject_type = self.subject_type;
        client.request_uris = self.request_uris;
        client.request_object_signing_alg = self.request_object_signing_alg;
        client.sector_identifier_uri = self.sector_identifier_uri;
    }
}

fn bad(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, description)
}

fn bad_redirect(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRedirectUri, description)
}

/// A member, with JSON `null` read as absent (RFC 7592 §2.2).
fn member<'a>(m: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    m.get(name).filter(|v| !v.is_null())
}

fn string<'a>(m: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, OAuthError> {
    match member(m, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(bad(format!("{name} must be a string"))),
    }
}

fn strings<'a>(m: &'a Map<String, Value>, name: &str) -> Result<Option<Vec<&'a str>>, OAuthError> {
    match member(m, name) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str())
            .collect::<Option<Vec<&str>>>()
            .map(Some)
            .ok_or_else(|| bad(format!("{name} must be an array of strings"))),
        Some(_) => Err(bad(format!("{name} must be an array of strings"))),
    }
}

fn boolean(m: &Map<String, Value>, name: &str) -> Result<bool, OAuthError> {
    match member(m, name) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(bad(format!("{name} must be a boolean"))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Where a client of `app` may be sent back to (OIDC Registration §2,
/// RFC 8252 §7). `implicit`: the client receives tokens in the front channel.
fn check_scheme(
    uri: &RedirectUri,
    app: ApplicationType,
    implicit: bool,
) -> Result<(), &'static str> {
    let url = uri.to_url().map_err(|_| "is not an absolute URL")?;
    match (app, url.scheme()) {
        (ApplicationType::Web, "https") if implicit && is_loopback(&url) => {
            Err("must not use a loopback host for a client using the implicit grant")
        }
        (ApplicationType::Web, "https") | (ApplicationType::Native, "https") => Ok(()),
        (_, "http") if implicit && app == ApplicationType::Web => {
            Err("must use https for a client using the implicit grant")
        }
        (_, "http") if is_loopback(&url) => Ok(()),
        (_, "http") => Err("may use http only on a loopback host"),
        (ApplicationType::Web, _) => {
            Err("must use https (custom schemes need application_type native)")
        }
        // native: custom schemes are its own
        _ => Ok(()),
    }
}

fn uris(
    m: &Map<String, Value>,
    name: &str,
    app: ApplicationType,
    implicit: bool,
    code: &ErrorCode,
) -> Result<Vec<RedirectUri>, OAuthError> {
    let error = |d: String| OAuthError::new(code.clone(), d);
    let mut out: Vec<RedirectUri> = Vec::new();
    for raw in strings(m, name)?.unwrap_or_default() {
        let uri = RedirectUri::new(raw).map_err(|e| error(format!("{name}: {e}")))?;
        check_scheme(&uri, app, implicit).map_err(|why| error(format!("{name}: {raw} {why}")))?;
        if !out.contains(&uri) {
            out.push(uri);
        }
    }
    Ok(out)
}

fn alg(
    m: &Map<String, Value>,
    name: &str,
    allowed: &[JwsAlgorithm],
) -> Result<Option<JwsAlgorithm>, OAuthError> {
    let Some(value) = string(m, name)? else {
        return Ok(None);
    };
    JwsAlgorithm::parse(value)
        .filter(|a| allowed.contains(a))
        .map(Some)
        .ok_or_else(|| bad(format!("{name} {value} is not supported")))
}

/// The grant and response types, defaulted and checked for consistency
/// (RFC 7591 §2.1).
fn flows(m: &Map<String, Value>) -> Result<(Vec<GrantType>, Vec<String>), OAuthError> {
    let mut grants: Option<Vec<GrantType>> = None;
    if let Some(given) = strings(m, "grant_types")? {
        let mut list = Vec::new();
        for g in given {
            let grant = GrantType::parse(g)
                .filter(|g| crate::model::REGISTRABLE_GRANTS.contains(g))
                .ok_or_else(|| bad(format!("grant_type {g} is not supported")))?;
            if !list.contains(&grant) {
                list.push(grant);
            }
        }
        grants = Some(list);
    }
    let responses: Vec<ResponseType> = match strings(m, "response_types")? {
        Some(given) => {
            let mut list = Vec::new();
            for r in given {
                let rt = ResponseType::parse(r)
                    .ok_or_else(|| bad(format!("response_type {r} is not supported")))?;
                if !list.contains(&rt) {
                    list.push(rt);
                }
            }
            list
        }
        None => match &grants {
            Some(g) if !g.contains(&GrantType::AuthorizationCode) => Vec::new(),
            _ => vec![ResponseType::Code],
        },
    };
    let grants = grants.unwrap_or_else(|| {
        let mut derived = Vec::new();
        if responses.iter().any(|r| r.has_code()) {
            derived.push(GrantType::AuthorizationCode);
        }
        if responses.iter().any(|r| r.needs_implicit()) {
            derived.push(GrantType::Implicit);
        }
        derived
    });
    if grants.is_empty() {
        return Err(bad("grant_types must not be empty"));
    }
    for rt in &responses {
        if rt.has_code() && !grants.contains(&GrantType::AuthorizationCode) {
            return Err(bad(format!(
                "response_type {rt} needs the authorization_code grant type"
            )));
        }
        if rt.needs_implicit() && !grants.contains(&GrantType::Implicit) {
            return Err(bad(format!(
                "response_type {rt} needs the implicit grant type"
            )));
        }
    }
    if grants.contains(&GrantType::AuthorizationCode) && !responses.iter().any(|r| r.has_code()) {
        return Err(bad(
            "the authorization_code grant type needs a response_type with code",
        ));
    }
    if grants.contains(&GrantType::Implicit) && !responses.iter().any(|r| r.needs_implicit()) {
        return Err(bad(
            "the implicit grant type needs a response_type with id_token or token",
        ));
    }
    Ok((
        grants,
        responses.iter().map(|r| r.as_str().to_owned()).collect(),
    ))
}

fn jwks(m: &Map<String, Value>) -> Result<Option<JwkSet>, OAuthError> {
    let Some(value) = member(m, "jwks") else {
        return Ok(None);
    };
    crate::model::public_jwks(value).map(Some).map_err(bad)
}

fn client_name(m: &Map<String, Value>) -> Result<Option<String>, OAuthError> {
    let Some(name) = string(m, "client_name")? else {
        return Ok(None);
    };
    let name = name.trim();
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().count() > MAX_CLIENT_NAME || name.chars().any(char::is_control) {
        return Err(bad(format!(
            "client_name must be at most {MAX_CLIENT_NAME} characters, without control characters"
        )));
    }
    Ok(Some(name.to_owned()))
}

fn subject_type(m: &Map<String, Value>, settings: &Settings) -> Result<SubjectType, OAuthError> {
    Ok(match string(m, "subject_type")? {
        None => SubjectType::Public,
        Some(name) => match SubjectType::parse(name) {
            Some(SubjectType::Pairwise) if settings.pairwise_salt.is_none() => {
                return Err(bad(
                    "subject_type pairwise is not offered by this provider (subject_types_supported)",
                ));
            }
            Some(t) => t,
            None => return Err(bad("subject_type must be public or pairwise")),
        },
    })
}

/// How the client authenticates, and the keys it does so with.
struct Authentication {
    token_endpoint_auth_method: AuthMethod,
    token_endpoint_auth_signing_alg: Option<JwsAlgorithm>,
    jwks: Option<JwkSet>,
    jwks_uri: Option<String>,
}

fn authentication(
    m: &Map<String, Value>,
    settings: &Settings,
    grant_types: &[GrantType],
) -> Result<Authentication, OAuthError> {
    let token_endpoint_auth_method = match string(m, "token_endpoint_auth_method")? {
        None => AuthMethod::ClientSecretBasic,
        Some(name) => AuthMethod::parse(name).ok_or_else(|| {
            bad(format!(
                "token_endpoint_auth_method {name} is not supported (supported: {})",
                AuthMethod::ALL
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?,
    };
    if token_endpoint_auth_method == AuthMethod::None
        && grant_types.contains(&GrantType::ClientCredentials)
    {
        return Err(bad(
            "a public client (token_endpoint_auth_method none) cannot use client_credentials",
        ));
    }
    let assertion_algs: &[JwsAlgorithm] = match token_endpoint_auth_method {
        AuthMethod::PrivateKeyJwt => &ASSERTION_ALGS,
        AuthMethod::ClientSecretJwt => &HMAC_ASSERTION_ALGS,
        _ => &[],
    };
    let token_endpoint_auth_signing_alg =
        alg(m, "token_endpoint_auth_signing_alg", assertion_algs)?;
    let jwks = jwks(m)?;
    let jwks_uri = match string(m, "jwks_uri")? {
        None => None,
        Some(raw) => Some(outbound_urls::jwks_uri(raw, settings)?),
    };
    if jwks.is_some() && jwks_uri.is_some() {
        return Err(bad("send jwks or jwks_uri, not both (RFC 7591 §2)"));
    }
    if token_endpoint_auth_method == AuthMethod::PrivateKeyJwt
        && jwks.is_none()
        && jwks_uri.is_none()
    {
        return Err(bad(
            "private_key_jwt needs the client's public keys in jwks or at jwks_uri",
        ));
    }
    Ok(Authentication {
        token_endpoint_auth_method,
        token_endpoint_auth_signing_alg,
        jwks,
        jwks_uri,
    })
}

/// Scopes the provider does not know are dropped (the response shows what
/// was registered): a client cannot invent scopes to get client_credentials
/// tokens for them.
fn registered_scope(
    m: &Map<String, Value>,
    scopes: &ScopeClaims,
) -> Result<Option<Scopes>, OAuthError> {
    Ok(match string(m, "scope")? {
        None => None,
        Some(s) => {
            let requested =
                Scopes::parse(s).map_err(|_| bad("scope contains invalid characters"))?;
            let mut known = Scopes::new();
            for s in requested.iter().filter(|s| scopes.knows(s.as_str())) {
                known.insert(s.clone());
            }
            Some(known)
        }
    })
}

/// Parses and checks registration metadata (a registration request, or an
/// RFC 7592 update). Unknown members are ignored (RFC 7591 §2).
pub(crate) fn parse(
    m: &Map<String, Value>,
    settings: &Settings,
    scopes: &ScopeClaims,
) -> Result<Metadata, OAuthError> {
    if let Some((name, why)) = refused::REFUSED
        .iter()
        .find(|(name, _)| member(m, name).is_some())
    {
        return Err(bad(format!("{name} is not supported: {why}")));
    }
    let subject_type = subject_type(m, settings)?;
    let application_type = match string(m, "application_type")? {
        None => ApplicationType::Web,
        Some(a) => ApplicationType::parse(a)
            .ok_or_else(|| bad("application_type must be web or native"))?,
    };
    let (grant_types, response_types) = flows(m)?;
    let implicit = grant_types.contains(&GrantType::Implicit);
    let redirect_uris = uris(
        m,
        "redirect_uris",
        application_type,
        implicit,
        &ErrorCode::InvalidRedirectUri,
    )?;
    if redirect_uris.is_empty() && (grant_types.contains(&GrantType::AuthorizationCode) || implicit)
    {
        return Err(bad_redirect("redirect_uris is required"));
    }
    let sector_identifier_uri = match string(m, "sector_identifier_uri")? {
        None => None,
        Some(raw) => Some(outbound_urls::sector_identifier_uri(raw, settings)?),
    };
    if subject_type == SubjectType::Pairwise && sector_identifier_uri.is_none() {
        let mut probe = Client::new(sesame_core::ClientId::new(""), redirect_uris.clone(), 0);
        probe.subject_type = subject_type;
        if probe.sector_identifier().is_none() {
            return Err(bad(
                "subject_type pairwise needs redirect_uris that all share one host, or a sector_identifier_uri listing them",
            ));
        }
    }

    let Authentication {
        token_endpoint_auth_method,
        token_endpoint_auth_signing_alg,
        jwks,
        jwks_uri,
    } = authentication(m, settings, &grant_types)?;

    let id_token_signed_response_alg =
        match alg(m, "id_token_signed_response_alg", &settings.signing_algs)? {
            Some(a) => a,
            // OIDC's default is RS256; a provider without RS256 keys uses its first algorithm.
            None if settings.signing_algs.contains(&JwsAlgorithm::RS256) => JwsAlgorithm::RS256,
            None => settings
                .signing_algs
                .first()
                .copied()
                .ok_or_else(|| bad("the provider has no signing algorithm"))?,
        };
    let userinfo_signed_response_alg =
        alg(m, "userinfo_signed_response_alg", &settings.signing_algs)?;
    // JARM §3: the provider's own algorithms (no HMAC, no encryption).
    let authorization_signed_response_alg = alg(
        m,
        "authorization_signed_response_alg",
        &settings.signing_algs,
    )?;

    let post_logout_redirect_uris = uris(
        m,
        "post_logout_redirect_uris",
        application_type,
        false,
        &ErrorCode::InvalidClientMetadata,
    )?;
    let backchannel_logout_uri = outbound_urls::backchannel_logout_uri(m, settings)?;
    let (request_uris, request_object_signing_alg) = outbound_urls::request_objects(m, settings)?;
    let backchannel_logout_session_required = boolean(m, "backchannel_logout_session_required")?;
    if backchannel_logout_session_required && backchannel_logout_uri.is_none() {
        return Err(bad(
            "backchannel_logout_session_required needs a backchannel_logout_uri",
        ));
    }

    let scope = registered_scope(m, scopes)?;

    Ok(Metadata {
        redirect_uris,
        response_types,
        grant_types,
        application_type,
        token_endpoint_auth_method,
        token_endpoint_auth_signing_alg,
        id_token_signed_response_alg,
        userinfo_signed_response_alg,
        authorization_signed_response_alg,
        jwks,
        jwks_uri,
        post_logout_redirect_uris,
        backchannel_logout_uri,
        backchannel_logout_session_required,
        client_name: client_name(m)?,
        scope,
        subject_type,
        request_uris,
        request_object_signing_alg,
        sector_identifier_uri,
    })
}

/// The client's registered metadata as JSON, for registration and RFC 7592 responses.
pub(crate) fn to_json(client: &Client) -> Map<String, Value> {
    let mut out = Map::new();
    let mut put = |name: &str, value: Value| {
        out.insert(name.to_owned(), value);
    };
    put(
        "redirect_uris",
        json!(
            client
                .redirect_uris
                .iter()
                .map(RedirectUri::as_str)
                .collect::<Vec<_>>()
        ),
    );
    put("response_types", json!(client.response_types));
    put(
        "grant_types",
        json!(
            client
                .grant_types
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
        ),
    );
    put("application_type", json!(client.application_type.as_str()));
    put(
        "token_endpoint_auth_method",
        json!(client.token_endpoint_auth_method.as_str()),
    );
    if let Some(a) = client.token_endpoint_auth_signing_alg {
        put("token_endpoint_auth_signing_alg", json!(a.as_str()));
    }
    put(
        "id_token_signed_response_alg",
        json!(client.id_token_signed_response_alg.as_str()),
    );
    if let Some(a) = client.userinfo_signed_response_alg {
        put("userinfo_signed_response_alg", json!(a.as_str()));
    }
    if let Some(a) = client.authorization_signed_response_alg {
        put("authorization_signed_response_alg", json!(a.as_str()));
    }
    if let Some(jwks) = &client.jwks {
        put("jwks", json!(jwks));
    }
    if let Some(uri) = &client.jwks_uri {
        put("jwks_uri", json!(uri));
    }
    if !client.post_logout_redirect_uris.is_empty() {
        put(
            "post_logout_redirect_uris",
            json!(
                client
                    .post_logout_redirect_uris
                    .iter()
                    .map(RedirectUri::as_str)
                    .collect::<Vec<_>>()
            ),
        );
    }
    if let Some(uri) = &client.backchannel_logout_uri {
        put("backchannel_logout_uri", json!(uri));
        put(
            "backchannel_logout_session_required",
            json!(client.backchannel_logout_session_required),
        );
    }
    if let Some(name) = &client.client_name {
        put("client_name", json!(name));
    }
    if let Some(scope) = &client.allowed_scopes {
        put("scope", json!(scope.to_string()));
    }
    put("subject_type", json!(client.subject_type.as_str()));
    if !client.request_uris.is_empty() {
        put("request_uris", json!(client.request_uris));
    }
    if let Some(alg) = &client.request_object_signing_alg {
        put("request_object_signing_alg", json!(alg));
    }
    if let Some(uri) = &client.sector_identifier_uri {
        put("sector_identifier_uri", json!(uri));
    }
    out
}

mod outbound_urls;
mod refused;
#[cfg(test)]
mod tests;
