//! The refresh token grant (RFC 6749 §6, OIDC Core §12): rotation, reuse detection.

use sesame_core::{ErrorCode, Scopes, UnixTime};

use super::{TokenRequest, TokenResponse};
use crate::flow::issue;
use crate::flow::{FlowError, err};
use crate::model::{Client, Grant, RefreshTokenRecord, RefreshUse};
use crate::provider::Provider;
use crate::secrets::token_key;

/// The refusal of a refresh token presented by a client it was not issued to
/// (which revokes its grant).
const ANOTHER_CLIENT: &str = "the refresh token was issued to another client";

pub(super) async fn refresh_token(r: TokenRequest<'_>) -> Result<TokenResponse, FlowError> {
    let presented = r.form.required("refresh_token")?;
    let key = token_key(presented);
    check_before_use(r, &key).await?;
    let rotate = crate::profile::rotates_refresh_tokens(r.p, r.client);
    let record = if rotate {
        spend(r.p, r.client, &key, r.now).await?
    } else {
        keep(r.p, &key, r.now).await?
    };
    key_check(&record.grant, r.dpop)?;
    let granted = record.grant.scopes.clone();
    let scopes = match r.form.get("scope") {
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
    if created > 0 && r.now - created > r.p.inner.settings.refresh_token_max_lifetime {
        let why = "the grant is too old; sign in again";
        return super::revoke_and_refuse(r.p, &record.grant.grant_id, why, r.now).await;
    }
    // The user must still exist.
    if issue::released_claims(r.p, &record.grant).await?.is_none() {
        let why = "the user no longer exists";
        return super::revoke_and_refuse(r.p, &record.grant.grant_id, why, r.now).await;
    }
    let narrowed = Grant {
        scopes,
        resources: crate::flow::resource::narrowed(&record.grant, r.form)?,
        jkt: r.dpop.map(str::to_owned),
        ..record.grant.clone()
    };
    let tokens = super::UserTokens {
        for_token: &narrowed,
        nonce: None,
        refresh: false,
    };
    let mut answer = super::user_tokens(r, &narrowed, tokens).await?;
    // The new refresh token keeps the original scope (RFC 6749 §6). Without
    // rotation the client keeps the one it sent (RFC 6749 §5.1: none is issued).
    if rotate {
        let refresh = issue::mint_refresh_token(r.p, &record.grant, r.now).await?;
        answer.refresh_token = Some(refresh.secret().to_owned());
    }
    Ok(answer)
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
async fn check_before_use(r: TokenRequest<'_>, key: &str) -> Result<(), FlowError> {
    if let Some(live) = r.p.inner.store.find_refresh_token(key, r.now).await? {
        // A bound refresh token needs a proof with its key; checked before
        // it is used, so a wrong proof does not spend it.
        key_check(&live.grant, r.dpop)?;
        if live.grant.client_id != r.client.client_id {
            return super::revoke_and_refuse(r.p, &live.grant.grant_id, ANOTHER_CLIENT, r.now)
                .await;
        }
        if let Some(s) = r.form.get("scope") {
            let s = Scopes::parse(s)
                .map_err(|_| err(ErrorCode::InvalidScope, "scope contains invalid characters"))?;
            if !s.is_subset_of(&live.grant.scopes) {
                return Err(err(
                    ErrorCode::InvalidScope,
                    "a refresh may only narrow the granted scope",
                ));
            }
        }
        crate::flow::resource::narrowed(&live.grant, r.form)?;
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
            let reused = (
                "rotated refresh token reused; the family is revoked",
                "the refresh token was already used; every token of this grant is revoked",
            );
            return super::refuse_replay(p, client, &grant_id, reused, now).await;
        }
        Some(RefreshUse::First(record)) => *record,
    };
    if record.grant.client_id != client.client_id {
        return super::revoke_and_refuse(p, &record.grant.grant_id, ANOTHER_CLIENT, now).await;
    }
    Ok(record)
}
