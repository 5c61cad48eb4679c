//! The resource owner password credentials grant (RFC 6749 §4.3): off unless
//! [`crate::Settings::password_grant`] is on, and then only for confidential
//! clients registered with the `password` grant type.

use sesame_core::ErrorCode;

use super::{TokenRequest, TokenResponse};
use crate::authn::{PasswordCheck, PasswordRequest};
use crate::flow::issue;
use crate::flow::{FlowError, err};
use crate::model::Grant;

pub(crate) async fn password(r: TokenRequest<'_>) -> Result<TokenResponse, FlowError> {
    // Without client authentication anyone who knows a client_id could test
    // passwords here; RFC 6749 §4.3.2 leaves public clients to the provider,
    // and Sesame refuses them (as OAuth 2.0 Security BCP §2.4 advises).
    super::confidential_only(r.client, "the password grant")?;
    let Some(passwords) = &r.p.inner.passwords else {
        // `build` refuses password_grant without an authenticator.
        return Err(err(
            ErrorCode::UnsupportedGrantType,
            "unsupported grant_type",
        ));
    };
    let username = r.form.required("username")?;
    let password = r.form.required("password")?;
    // Everything the client controls is checked before the password, so a
    // malformed request costs neither a hash nor a rate-limit token. The
    // resource owner typing their password into the client is their consent
    // (RFC 6749 §4.3: the client is trusted with the password), so no
    // consent page and no stored consent; `offline_access` is granted to
    // clients that may use refresh tokens.
    let scopes = super::requested_scopes(r.p, r.client, r.form)?;
    let resources = crate::flow::resource::requested(r.client, r.form)?;
    let request = PasswordRequest {
        username,
        password,
        client_id: &r.client.client_id,
    };
    let subject = match passwords
        .check_password(r.from, request)
        .await
        .map_err(|e| FlowError::Internal(e.to_string()))?
    {
        PasswordCheck::Valid(subject) => subject,
        PasswordCheck::Invalid => {
            tracing::info!(
                client_id = r.client.client_id.as_str(),
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
        client_id: r.client.client_id.clone(),
        subject: Some(subject),
        scopes,
        auth_time: Some(r.now),
        // No browser session: nothing to log out of, no `sid`.
        sid: None,
        acr: None,
        amr: Some(vec!["pwd".to_owned()]),
        claims_request: None,
        claims: Vec::new(),
        jkt: None,
        resources,
        created_at: r.now,
    };
    // A user the claims source no longer knows gets nothing.
    if issue::released_claims(r.p, &grant).await?.is_none() {
        return Err(err(
            ErrorCode::InvalidGrant,
            "the username or password is wrong",
        ));
    }
    let tokens = super::UserTokens {
        for_token: &super::bound(&grant, r.dpop),
        nonce: None,
        refresh: true,
    };
    super::user_tokens(r, &grant, tokens).await
}
