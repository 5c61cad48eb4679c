//! The refresh token grant (RFC 6749 §6, OIDC Core §12): rotation, reuse detection.

use sesame_core::{ErrorCode, Scopes, UnixTime};

use super::TokenResponse;
use crate::flow::issue::{self, IdTokenInput};
use crate::flow::{FlowError, Params, err};
use crate::model::{Client, Grant, RefreshTokenRecord, RefreshUse};
use crate::provider::Provider;
use crate::secrets::token_key;

pub(super) async fn refresh_token(
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
    check_before_use(p, client, form, dpop, &key, now).await?;
    let rotate = crate::profile::rotates_refresh_tokens(p, client);
    let record = if rotate {
        spend(p, client, &key, now).await?
    } else {
        keep(p, &key, now).await?
    };
    key_check(&record.grant, dpop)?;
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
        resources: crate::flow::resource::narrowed(&record.grant, form)?,
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
    // The new refresh token keeps the original scope (RFC 6749 §6). Without
    // rotation the client keeps the one it sent (RFC 6749 §5.1: none is issued).
    let refresh = if rotate {
        Some(issue::mint_refresh_token(p, &record.grant, now).await?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token: access.secret().to_owned(),
        token_type: "Bearer",
        expires_in: ttl,
        refresh_token: refresh.map(|r| r.secret().to_owned()),
        id_token,
        scope: scopes.to_string(),
    })
}

/// RFC 9449 §5: a refresh token bound to a DPoP key (a public client's)
/// is refreshed only with a proof made with that key: `invalid_grant`
/// otherwise, as for a code bound with `dpop_jkt`.
fn key_check(grant: &Grant, dpop: Option<&str>) -> Result<(), FlowError> {
    match &grant.jkt {
        Some(jkt) if dpop != Some(jkt.as_str()) => Err(err(
            ErrorCode::InvalidGrant,
            "the refresh token is bound to a DPoP key: send a proof made with it",
        )),
        _ => Ok(()),
    }
}

/// The checks of a live token made before it is spent, so that a bad
/// request (wrong DPoP key, wrong client, wider scope or resources) does not
/// burn a good token.
async fn check_before_use(
    p: &Provider,
    client: &Client,
    form: &Params,
    dpop: Option<&str>,
    key: &str,
    now: UnixTime,
) -> Result<(), FlowError> {
    if let Some(live) = p.inner.store.find_refresh_token(key, now).await? {
        // A bound refresh token needs a proof with its key; checked before
        // it is used, so a wrong proof does not spend it.
        key_check(&live.grant, dpop)?;
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
        crate::flow::resource::narrowed(&live.grant, form)?;
    }
    Ok(())
}

/// A live token that is not rotated (FAPI 2.0): read, not spent, so the
/// same token refreshes again; [`check_before_use`] has checked its client.
async fn keep(p: &Provider, key: &str, now: UnixTime) -> Result<RefreshTokenRecord, FlowError> {
    p.inner
        .store
        .find_refresh_token(key, now)
        .await?
        .ok_or_else(|| {
            err(
                ErrorCode::InvalidGrant,
                "the refresh token is invalid, expired or revoked",
            )
        })
}

/// Uses the token once: a reused one revokes its family (RFC 9700 §4.14.2),
/// one of another client revokes its grant.
async fn spend(
    p: &Provider,
    client: &Client,
    key: &str,
    now: UnixTime,
) -> Result<RefreshTokenRecord, FlowError> {
    let record = match p.inner.store.use_refresh_token(key, now).await? {
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
    Ok(record)
}
