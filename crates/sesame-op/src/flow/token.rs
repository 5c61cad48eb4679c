//! The token endpoint (RFC 6749 §4.1.3, §6, §4.4; OIDC Core §3.1.3, §12).

use http::request::Parts;
use serde::Serialize;
use sesame_core::{ErrorCode, PkceError, Scopes, UnixTime, pkce_verify};

use super::issue::{self, IdTokenInput};
use super::{FlowError, OAuthError, Params};
use crate::model::{Client, CodeUse, Grant, GrantType, RefreshUse};
use crate::provider::Provider;
use crate::secrets::token_key;

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

pub(super) fn err(code: ErrorCode, description: &str) -> FlowError {
    FlowError::OAuth(OAuthError::new(code, description))
}

/// Runs the token endpoint for an authenticated `client`. `parts`: the
/// request's head, handed to the [`crate::PasswordAuthenticator`] (client
/// address for its rate limits).
///
/// `dpop`: the thumbprint of the key of a verified DPoP proof (RFC 9449)
/// sent with the request; the tokens minted are then bound to it.
pub(crate) async fn token(
    p: &Provider,
    client: &Client,
    form: &Params,
    parts: &Parts,
    dpop: Option<&str>,
    now: UnixTime,
) -> Result<TokenResponse, FlowError> {
    if dpop.is_none() && client.dpop_bound_access_tokens {
        return Err(err(
            ErrorCode::InvalidDpopProof,
            "this client's tokens must be DPoP-bound: send a DPoP proof (RFC 9449)",
        ));
    }
    if let Some(name) = form.duplicate() {
        return Err(err(
            ErrorCode::InvalidRequest,
            &format!("{name} was given more than once"),
        ));
    }
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| err(ErrorCode::InvalidRequest, "grant_type is missing"))?;
    // `password` exists only when the provider enables it, whatever clients list.
    let grant = GrantType::parse(grant_type)
        .filter(|g| *g != GrantType::Implicit)
        .filter(|g| *g != GrantType::Password || p.inner.settings.password_grant)
        .ok_or_else(|| err(ErrorCode::UnsupportedGrantType, "unsupported grant_type"))?;
    if !client.allows_grant(grant) {
        return Err(err(
            ErrorCode::UnauthorizedClient,
            &format!("the client may not use {grant_type}"),
        ));
    }
    let mut answer = match grant {
        GrantType::AuthorizationCode => authorization_code(p, client, form, dpop, now).await,
        GrantType::RefreshToken => refresh_token(p, client, form, dpop, now).await,
        GrantType::ClientCredentials => client_credentials(p, client, form, dpop, now).await,
        GrantType::Password => super::password::password(p, client, form, parts, dpop, now).await,
        GrantType::DeviceCode => super::device::poll(p, client, form, dpop, now).await,
        _ => Err(err(
            ErrorCode::UnsupportedGrantType,
            "unsupported grant_type",
        )),
    }?;
    if dpop.is_some() {
        answer.token_type = "DPoP";
    }
    Ok(answer)
}

/// `grant` with its tokens bound to the DPoP key `dpop` (or bearer).
pub(super) fn bound(grant: &Grant, dpop: Option<&str>) -> Grant {
    Grant {
        jkt: dpop.map(str::to_owned),
        ..grant.clone()
    }
}

/// The grant refresh tokens carry: bound to the DPoP key for public
/// clients (RFC 9449 §5), whose refresh tokens are otherwise bearer secrets.
pub(super) fn refresh_binding(client: &Client, grant: &Grant, dpop: Option<&str>) -> Grant {
    if client.is_public() {
        bound(grant, dpop)
    } else {
        bound(grant, None)
    }
}

async fn authorization_code(
    p: &Provider,
    client: &Client,
    form: &Params,
    dpop: Option<&str>,
    now: UnixTime,
) -> Result<TokenResponse, FlowError> {
    let code = form
        .get("code")
        .ok_or_else(|| err(ErrorCode::InvalidRequest, "code is missing"))?;
    super::resource::check_before_consuming(p, client, &token_key(code), form, now).await?;
    let record = match p.inner.store.consume_code(&token_key(code), now).await? {
        None => {
            return Err(err(
                ErrorCode::InvalidGrant,
                "the code is invalid or expired",
            ));
        }
        Some(CodeUse::Replayed { grant_id }) => {
            // RFC 6749 §4.1.2: a replayed code revokes what it issued.
            p.inner
                .store
                .revoke_grant(&grant_id, p.revocation_horizon(now))
                .await?;
            tracing::warn!(
                client_id = client.client_id.as_str(),
                "authorization code replayed; its tokens are revoked"
            );
            return Err(err(ErrorCode::InvalidGrant, "the code was already used"));
        }
        Some(CodeUse::First(record)) => *record,
    };
    if record.grant.client_id != client.client_id {
        p.inner
            .store
            .revoke_grant(&record.grant.grant_id, p.revocation_horizon(now))
            .await?;
        return Err(err(
            ErrorCode::InvalidGrant,
            "the code was issued to another client",
        ));
    }
    if form.get("redirect_uri") != Some(record.redirect_uri.as_str()) {
        return Err(err(
            ErrorCode::InvalidGrant,
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&record.pkce, form.get("code_verifier")) {
        (Some(pkce), Some(verifier)) => {
            pkce_verify(
                verifier,
                &pkce.challenge,
                pkce.method,
                p.inner.settings.allow_plain_pkce,
            )
            .map_err(|e| match e {
                PkceError::MalformedVerifier => {
                    err(ErrorCode::InvalidRequest, "code_verifier is malformed")
                }
                _ => err(
                    ErrorCode::InvalidGrant,
                    "code_verifier does not match the code_challenge",
                ),
            })?;
        }
        (Some(_), None) => return Err(err(ErrorCode::InvalidRequest, "code_verifier is missing")),
        // A verifier for a code issued without a challenge: a PKCE downgrade attempt.
        (None, Some(_)) => {
            return Err(err(
                ErrorCode::InvalidGrant,
                "no code_challenge was sent for this code",
            ));
        }
        (None, None) => {}
    }
    let grant = record.grant;
    // RFC 8707: this access token may be for some of the authorized resources;
    // the refresh token keeps them all.
    let for_token = Grant {
        resources: super::resource::narrowed(&grant, form)?,
        jkt: dpop.map(str::to_owned),
        ..grant.clone()
    };
    let (access, ttl) = issue::mint_access_token(p, client, &for_token, now).await?;
    let id_token = if grant.scopes.contains(sesame_core::OPENID) {
        let input = IdTokenInput {
            nonce: record.nonce.as_ref(),
            access_token: Some(&access),
            code: None,
        };
        Some(issue::mint_id_token(p, client, &grant, input, now).await?)
    } else {
        None
    };
    let refresh = if grant.scopes.contains(sesame_core::OFFLINE_ACCESS)
        && client.allows_grant(GrantType::RefreshToken)
    {
        Some(issue::mint_refresh_token(p, &refresh_binding(client, &grant, dpop), now).await?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token: access.secret().to_owned(),
        token_type: "Bearer",
        expires_in: ttl,
        refresh_token: refresh.map(|r| r.secret().to_owned()),
        id_token,
        scope: grant.scopes.to_string(),
    })
}

async fn refresh_token(
    p: &Provider,
    client: &Client,
    form: &Params,
    dpop: Option<&str>,
    now: UnixTime,
) -> Result<TokenResponse, FlowError> {
    let presented = form
        .get("refresh_token")
        .ok_or_else(|| err(ErrorCode::InvalidRequest, "refresh_token is missing"))?;
    let key = token_key(presented);
    // Check client and scope before the token is spent, so that a bad request
    // does not burn a good token.
    if let Some(live) = p.inner.store.find_refresh_token(&key, now).await? {
        // A bound refresh token needs a proof with its key; checked before
        // it is used, so a wrong proof does not spend it.
        if let Some(jkt) = &live.grant.jkt
            && dpop != Some(jkt.as_str())
        {
            return Err(err(
                ErrorCode::InvalidDpopProof,
                "the refresh token is bound to a DPoP key: send a proof made with it",
            ));
        }
        if live.grant.client_id != client.client_id {
            p.inner
                .store
                .revoke_grant(&live.grant.grant_id, p.revocation_horizon(now))
                .await?;
            return Err(err(
                ErrorCode::InvalidGrant,
                "the refresh token was issued to another client",
            ));
        }
        if let Some(s) = form.get("scope") {
            let s = Scopes::parse(s)
                .map_err(|_| err(ErrorCode::InvalidScope, "scope contains invalid characters"))?;
            if !s.is_subset_of(&live.grant.scopes) {
                return Err(err(
                    ErrorCode::InvalidScope,
                    "a refresh may only narrow the granted scope",
                ));
            }
        }
        super::resource::narrowed(&live.grant, form)?;
    }
    let record = match p.inner.store.use_refresh_token(&key, now).await? {
        None => {
            return Err(err(
                ErrorCode::InvalidGrant,
                "the refresh token is invalid, expired or revoked",
            ));
        }
        Some(RefreshUse::Reused { grant_id }) => {
            p.inner
                .store
                .revoke_grant(&grant_id, p.revocation_horizon(now))
                .await?;
            tracing::warn!(
                client_id = client.client_id.as_str(),
                "rotated refresh token reused; the family is revoked"
            );
            return Err(err(
                ErrorCode::InvalidGrant,
                "the refresh token was already used; every token of this grant is revoked",
            ));
        }
        Some(RefreshUse::First(record)) => *record,
    };
    if record.grant.client_id != client.client_id {
        p.inner
            .store
            .revoke_grant(&record.grant.grant_id, p.revocation_horizon(now))
            .await?;
        return Err(err(
            ErrorCode::InvalidGrant,
            "the refresh token was issued to another client",
        ));
    }
    let granted = record.grant.scopes.clone();
    let scopes = match form.get("scope") {
        None => granted.clone(),
        Some(s) => Scopes::parse(s)
            .ok()
            .filter(|s| s.is_subset_of(&granted))
            .ok_or_else(|| {
                err(
                    ErrorCode::InvalidScope,
                    "a refresh may only narrow the granted scope",
                )
            })?,
    };
    // An absolute limit on the family, whatever the rotations.
    let created = record.grant.created_at;
    if created > 0 && now - created > p.inner.settings.refresh_token_max_lifetime {
        p.inner
            .store
            .revoke_grant(&record.grant.grant_id, p.revocation_horizon(now))
            .await?;
        return Err(err(
            ErrorCode::InvalidGrant,
            "the grant is too old; sign in again",
        ));
    }
    // The user must still exist.
    if issue::released_claims(p, &record.grant).await?.is_none() {
        p.inner
            .store
            .revoke_grant(&record.grant.grant_id, p.revocation_horizon(now))
            .await?;
        return Err(err(ErrorCode::InvalidGrant, "the user no longer exists"));
    }
    let narrowed = Grant {
        scopes: scopes.clone(),
        resources: super::resource::narrowed(&record.grant, form)?,
        jkt: dpop.map(str::to_owned),
        ..record.grant.clone()
    };
    let (access, ttl) = issue::mint_access_token(p, client, &narrowed, now).await?;
    let id_token = if scopes.contains(sesame_core::OPENID) {
        let input = IdTokenInput {
            nonce: None,
            access_token: Some(&access),
            code: None,
        };
        Some(issue::mint_id_token(p, client, &narrowed, input, now).await?)
    } else {
        None
    };
    // The new refresh token keeps the original scope (RFC 6749 §6).
    let refresh = issue::mint_refresh_token(p, &record.grant, now).await?;
    Ok(TokenResponse {
        access_token: access.secret().to_owned(),
        token_type: "Bearer",
        expires_in: ttl,
        refresh_token: Some(refresh.secret().to_owned()),
        id_token,
        scope: scopes.to_string(),
    })
}

async fn client_credentials(
    p: &Provider,
    client: &Client,
    form: &Params,
    dpop: Option<&str>,
    now: UnixTime,
) -> Result<TokenResponse, FlowError> {
    if client.is_public() {
        return Err(err(
            ErrorCode::UnauthorizedClient,
            "public clients cannot use client_credentials",
        ));
    }
    let requested = Scopes::parse(form.get("scope").unwrap_or(""))
        .map_err(|_| err(ErrorCode::InvalidScope, "scope contains invalid characters"))?;
    if requested.contains(sesame_core::OPENID) || requested.contains(sesame_core::OFFLINE_ACCESS) {
        return Err(err(
            ErrorCode::InvalidScope,
            "openid and offline_access need a user",
        ));
    }
    let allowed = client.allowed_scopes.clone().unwrap_or_default();
    if !requested.is_subset_of(&allowed) {
        return Err(err(
            ErrorCode::InvalidScope,
            "the client may not request that scope",
        ));
    }
    let resources = super::resource::requested(client, form)?;
    let grant = Grant {
        grant_id: issue::new_grant_id()?,
        client_id: client.client_id.clone(),
        subject: None,
        scopes: requested,
        auth_time: None,
        sid: None,
        acr: None,
        amr: None,
        claims_request: None,
        claims: Vec::new(),
        jkt: None,
        resources,
        created_at: now,
    };
    let (access, ttl) = issue::mint_access_token(p, client, &bound(&grant, dpop), now).await?;
    Ok(TokenResponse {
        access_token: access.secret().to_owned(),
        token_type: "Bearer",
        expires_in: ttl,
        refresh_token: None,
        id_token: None,
        scope: grant.scopes.to_string(),
    })
}
