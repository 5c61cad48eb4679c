//! The resource owner password credentials grant (RFC 6749 §4.3): off unless
//! [`crate::Settings::password_grant`] is on, and then only for confidential
//! clients registered with the `password` grant type.

use sesame_core::{ErrorCode, Scopes, UnixTime};

use super::TokenResponse;
use crate::authn::RequestInfo;
use crate::authn::{PasswordCheck, PasswordRequest};
use crate::flow::issue;
use crate::flow::{FlowError, Params, err};
use crate::model::{Client, Grant, GrantType};
use crate::provider::Provider;

/// The scopes a password grant gets: what the client may ask for, of what the
/// provider knows. The resource owner typing their password into the client
/// is their consent (RFC 6749 §4.3: the client is trusted with the
/// password), so no consent page and no stored consent; `offline_access`
/// is granted to clients that may use refresh tokens.
fn granted_scopes(p: &Provider, client: &Client, form: &Params) -> Result<Scopes, FlowError> {
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

pub(crate) async fn password(
    p: &Provider,
    client: &Client,
    form: &Params,
    from: RequestInfo<'_>,
    dpop: Option<&str>,
    now: UnixTime,
) -> Result<TokenResponse, FlowError> {
    // Without client authentication anyone who knows a client_id could test
    // passwords here; RFC 6749 §4.3.2 leaves public clients to the provider,
    // and Sesame refuses them (as OAuth 2.0 Security BCP §2.4 advises).
    if client.is_public() {
        return Err(err(
            ErrorCode::UnauthorizedClient,
            "public clients cannot use the password grant",
        ));
    }
    let Some(passwords) = &p.inner.passwords else {
        // `build` refuses password_grant without an authenticator.
        return Err(err(
            ErrorCode::UnsupportedGrantType,
            "unsupported grant_type",
        ));
    };
    let username = form
        .get("username")
        .ok_or_else(|| err(ErrorCode::InvalidRequest, "username is missing"))?;
    let password = form
        .get("password")
        .ok_or_else(|| err(ErrorCode::InvalidRequest, "password is missing"))?;
    // Everything the client controls is checked before the password, so a
    // malformed request costs neither a hash nor a rate-limit token.
    let scopes = granted_scopes(p, client, form)?;
    let resources = crate::flow::resource::requested(client, form)?;
    let request = PasswordRequest {
        username,
        password,
        client_id: &client.client_id,
    };
    let subject = match passwords
        .check_password(from, request)
        .await
        .map_err(|e| FlowError::Internal(e.to_string()))?
    {
        PasswordCheck::Valid(subject) => subject,
        PasswordCheck::Invalid => {
            tracing::info!(
                client_id = client.client_id.as_str(),
                "password grant: wrong username or password"
            );
            return Err(err(
                ErrorCode::InvalidGrant,
                "the username or password is wrong",
            ));
        }
        PasswordCheck::RateLimited { retry_after } => {
            return Err(FlowError::RateLimited { retry_after });
        }
    };
    let grant = Grant {
        grant_id: issue::new_grant_id()?,
        client_id: client.client_id.clone(),
        subject: Some(subject),
        scopes,
        auth_time: Some(now),
        // No browser session: nothing to log out of, no `sid`.
        sid: None,
        acr: None,
        amr: Some(vec!["pwd".to_owned()]),
        claims_request: None,
        claims: Vec::new(),
        jkt: None,
        resources,
        created_at: now,
    };
    // A user the claims source no longer knows gets nothing.
    if issue::released_claims(p, &grant).await?.is_none() {
        return Err(err(
            ErrorCode::InvalidGrant,
            "the username or password is wrong",
        ));
    }
    let tokens = super::UserTokens {
        for_token: &super::bound(&grant, dpop),
        nonce: None,
        refresh: true,
    };
    super::user_tokens(p, client, &grant, tokens, dpop, now).await
}
