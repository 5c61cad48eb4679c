//! The client credentials grant (RFC 6749 §4.4).

use sesame_core::{ErrorCode, Scopes};

use super::{TokenRequest, TokenResponse, bound};
use crate::flow::issue::{self};
use crate::flow::{FlowError, err};
use crate::model::Grant;

pub(super) async fn client_credentials(r: TokenRequest<'_>) -> Result<TokenResponse, FlowError> {
    super::confidential_only(r.client, "client_credentials")?;
    let requested = Scopes::parse(r.form.get("scope").unwrap_or(""))
        .map_err(|_| err(ErrorCode::InvalidScope, "scope contains invalid characters"))?;
    if requested.contains(sesame_core::OPENID) || requested.contains(sesame_core::OFFLINE_ACCESS) {
        return Err(err(
            ErrorCode::InvalidScope,
            "openid and offline_access need a user",
        ));
    }
    let allowed = r.client.allowed_scopes.clone().unwrap_or_default();
    if !requested.is_subset_of(&allowed) {
        return Err(err(
            ErrorCode::InvalidScope,
            "the client may not request that scope",
        ));
    }
    let resources = crate::flow::resource::requested(r.client, r.form)?;
    let grant = Grant {
        grant_id: issue::new_grant_id()?,
        client_id: r.client.client_id.clone(),
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
        created_at: r.now,
    };
    let (access, ttl) =
        issue::mint_access_token(r.p, r.client, &bound(&grant, r.dpop), r.now).await?;
    Ok(TokenResponse {
        access_token: access.secret().to_owned(),
        token_type: "Bearer",
        expires_in: ttl,
        refresh_token: None,
        id_token: None,
        scope: grant.scopes.to_string(),
    })
}
