//! The token endpoint (RFC 6749 §4.1.3, §6, §4.4; OIDC Core §3.1.3, §12;
//! RFC 8628 §3.4): the dispatch to one grant per file, and what they share.

use serde::Serialize;
use sesame_core::{ErrorCode, Scopes, UnixTime};

use super::issue::{self, IdTokenInput};
use super::{FlowError, Params, err};
use crate::authn::RequestInfo;
use crate::model::{Client, Grant, GrantType};
use crate::provider::Provider;
use crate::secrets::token_key;
use crate::store::IssuedTokens;

mod authorization_code;
mod client_credentials;
mod device_code;
mod password;
mod refresh_token;

/// A successful token response (RFC 6749 §5.1).
#[derive(Serialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) token_type: &'static str,
    pub(crate) expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id_token: Option<String>,
    pub(crate) scope: String,
}

/// No tokens in Debug output.
impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// One request at the token endpoint, as the grants see it.
#[derive(Clone, Copy)]
pub(crate) struct TokenRequest<'a> {
    pub(crate) p: &'a Provider,
    /// The client, authenticated.
    pub(crate) client: &'a Client,
    pub(crate) form: &'a Params,
    /// Who sent it, handed to the [`crate::PasswordAuthenticator`] (client
    /// address for its rate limits).
    pub(crate) from: RequestInfo<'a>,
    /// The thumbprint of the key of a verified DPoP proof (RFC 9449) sent
    /// with the request; the tokens minted are then bound to it.
    pub(crate) dpop: Option<&'a str>,
    pub(crate) now: UnixTime,
}

/// Runs the token endpoint for `r`'s authenticated client.
pub(crate) async fn token(r: TokenRequest<'_>) -> Result<TokenResponse, FlowError> {
    if r.dpop.is_none() && r.client.dpop_bound_access_tokens {
        return Err(err(
            ErrorCode::InvalidDpopProof,
            "this client's tokens must be DPoP-bound: send a DPoP proof (RFC 9449)",
        ));
    }
    if let Some(name) = r.form.duplicate() {
        return Err(err(
            ErrorCode::InvalidRequest,
            &format!("{name} was given more than once"),
        ));
    }
    let grant_type = r.form.required("grant_type")?;
    // `password` exists only when the provider enables it, whatever clients list.
    let grant = GrantType::parse(grant_type)
        .filter(|g| *g != GrantType::Implicit)
        .filter(|g| *g != GrantType::Password || r.p.inner.settings.password_grant)
        .ok_or_else(|| err(ErrorCode::UnsupportedGrantType, "unsupported grant_type"))?;
    if !r.client.allows_grant(grant) {
        return Err(err(
            ErrorCode::UnauthorizedClient,
            &format!("the client may not use {grant_type}"),
        ));
    }
    let mut answer = match grant {
        GrantType::AuthorizationCode => authorization_code::authorization_code(r).await,
        GrantType::RefreshToken => refresh_token::refresh_token(r).await,
        GrantType::ClientCredentials => client_credentials::client_credentials(r).await,
        GrantType::Password => password::password(r).await,
        GrantType::DeviceCode => device_code::poll(r).await,
        _ => Err(err(
            ErrorCode::UnsupportedGrantType,
            "unsupported grant_type",
        )),
    }?;
    if r.dpop.is_some() {
        answer.token_type = "DPoP";
    }
    Ok(answer)
}

/// What [`user_tokens`] mints besides the grant itself.
pub(super) struct UserTokens<'a> {
    /// The grant the access token is for (bound, and narrowed to resources).
    pub(super) for_token: &'a Grant,
    /// The ID token's `nonce`.
    pub(super) nonce: Option<&'a sesame_core::Nonce>,
    /// Whether a refresh token may be issued when `offline_access` was granted.
    pub(super) refresh: bool,
}

/// The tokens of a grant a user authorized (code, device code, password):
/// an access token for `t.for_token`, an ID token when `openid` was granted,
/// and a refresh token (bound for public clients) when `offline_access` was.
pub(super) async fn user_tokens(
    r: TokenRequest<'_>,
    grant: &Grant,
    t: UserTokens<'_>,
) -> Result<TokenResponse, FlowError> {
    let (answer, issued) = new_user_tokens(r, grant, t).await?;
    let (access_key, access) = &issued.access;
    r.p.inner
        .store
        .save_access_token(access_key, access)
        .await?;
    if let Some((refresh_key, refresh)) = &issued.refresh {
        r.p.inner
            .store
            .save_refresh_token(refresh_key, refresh)
            .await?;
    }
    Ok(answer)
}

/// What [`user_tokens`] answers, and the rows it saves, not yet saved (the
/// code grant saves them with the code's redemption).
pub(super) async fn new_user_tokens(
    r: TokenRequest<'_>,
    grant: &Grant,
    t: UserTokens<'_>,
) -> Result<(TokenResponse, IssuedTokens), FlowError> {
    let (access, ttl, access_row) =
        issue::new_access_token(r.p, r.client, t.for_token, r.now).await?;
    let id_token = if grant.scopes.contains(sesame_core::OPENID) {
        let input = IdTokenInput {
            nonce: t.nonce,
            access_token: Some(&access),
            code: None,
        };
        Some(issue::mint_id_token(r.p, r.client, grant, input, r.now).await?)
    } else {
        None
    };
    let refresh = if t.refresh && grant.scopes.contains(sesame_core::OFFLINE_ACCESS) {
        let binding = refresh_binding(r.client, grant, r.dpop);
        Some(issue::new_refresh_token(r.p, &binding, r.now)?)
    } else {
        None
    };
    let answer = TokenResponse {
        access_token: access.secret().to_owned(),
        token_type: "Bearer",
        expires_in: ttl,
        refresh_token: refresh.as_ref().map(|(t, _)| t.secret().to_owned()),
        id_token,
        scope: grant.scopes.to_string(),
    };
    let issued = IssuedTokens {
        access: (token_key(access.secret()), access_row),
        refresh: refresh.map(|(t, row)| (token_key(t.secret()), row)),
    };
    Ok((answer, issued))
}

/// `grant` with its tokens bound to the DPoP key `dpop` (or bearer).
pub(crate) fn bound(grant: &Grant, dpop: Option<&str>) -> Grant {
    Grant {
        jkt: dpop.map(str::to_owned),
        ..grant.clone()
    }
}

/// The grant refresh tokens carry: bound to the DPoP key for public
/// clients (RFC 9449 §5), whose refresh tokens are otherwise bearer secrets.
pub(crate) fn refresh_binding(client: &Client, grant: &Grant, dpop: Option<&str>) -> Grant {
    if client.is_public() {
        bound(grant, dpop)
    } else {
        bound(grant, None)
    }
}

/// Revokes the grant `grant_id` (what it issued stops working) and refuses
/// the request with `invalid_grant`: for a replayed code or refresh token, or
/// one presented by another client.
pub(super) async fn revoke_and_refuse<T>(
    p: &Provider,
    grant_id: &str,
    description: &str,
    now: UnixTime,
) -> Result<T, FlowError> {
    p.inner
        .store
        .revoke_grant(grant_id, p.revocation_horizon(now))
        .await?;
    Err(err(ErrorCode::InvalidGrant, description))
}

/// A code or token presented again (RFC 6749 §4.1.2, RFC 9700 §4.14.2):
/// `log` goes to the warning log, what it issued is revoked, and the request
/// is refused with `invalid_grant` and `description`.
pub(super) async fn refuse_replay<T>(
    p: &Provider,
    client: &Client,
    grant_id: &str,
    (log, description): (&str, &str),
    now: UnixTime,
) -> Result<T, FlowError> {
    tracing::warn!(client_id = client.client_id.as_str(), "{log}");
    revoke_and_refuse(p, grant_id, description, now).await
}

/// Refuses a grant meant for confidential clients to a public one
/// (`unauthorized_client`).
pub(super) fn confidential_only(client: &Client, grant: &str) -> Result<(), FlowError> {
    if client.is_public() {
        return Err(err(
            ErrorCode::UnauthorizedClient,
            &format!("public clients cannot use {grant}"),
        ));
    }
    Ok(())
}

/// The scopes of the request's `scope` that a user's grant gets without the
/// authorization endpoint (password, device authorization): a scope the
/// client may not request is `invalid_scope`; scopes the provider does not
/// know are ignored, as at the authorization endpoint, and `offline_access`
/// is kept only for clients that may use refresh tokens.
pub(crate) fn requested_scopes(
    p: &Provider,
    client: &Client,
    form: &Params,
) -> Result<Scopes, FlowError> {
    let requested = Scopes::parse(form.get("scope").unwrap_or(""))
        .map_err(|_| err(ErrorCode::InvalidScope, "scope contains invalid characters"))?;
    if let Some(allowed) = &client.allowed_scopes
        && let Some(bad) = requested
            .iter()
            .find(|s| !allowed.contains(s.as_str()) && s.as_str() != sesame_core::OPENID)
    {
        return Err(err(
            ErrorCode::InvalidScope,
            &format!("the client may not request scope {bad}"),
        ));
    }
    let mut scopes = Scopes::new();
    for s in requested.iter() {
        let offline = s.as_str() == sesame_core::OFFLINE_ACCESS;
        if p.inner.scopes.knows(s.as_str())
            && (!offline || client.allows_grant(GrantType::RefreshToken))
        {
            scopes.insert(s.clone());
        }
    }
    Ok(scopes)
}
