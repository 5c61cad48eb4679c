//! The device code grant at the token endpoint (RFC 8628 §3.4–3.5): the
//! device's polls, answered from the authorization the user decided on.

use sesame_core::ErrorCode;

use super::{TokenRequest, TokenResponse};
use crate::flow::device::SLOW_DOWN_STEP;
use crate::flow::issue;
use crate::flow::{FlowError, err};
use crate::model::{DeviceAuthorization, DeviceState, Grant, GrantType};
use crate::secrets::token_key;

/// The token endpoint's `urn:ietf:params:oauth:grant-type:device_code`
/// (RFC 8628 §3.4–3.5).
pub(crate) async fn poll(r: TokenRequest<'_>) -> Result<TokenResponse, FlowError> {
    let device_code = r.form.required("device_code")?;
    let key = token_key(device_code);
    let Some(record) = r.p.inner.store.find_device_authorization(&key).await? else {
        return Err(err(ErrorCode::InvalidGrant, "the device code is invalid"));
    };
    if record.client_id != r.client.client_id {
        return Err(err(
            ErrorCode::InvalidGrant,
            "the device code was issued to another client",
        ));
    }
    if record.expires_at <= r.now {
        return Err(err(ErrorCode::ExpiredToken, "the device code has expired"));
    }
    let mut next = DeviceAuthorization {
        last_poll: Some(r.now),
        revision: record.revision.saturating_add(1),
        ..record.clone()
    };
    match &record.state {
        DeviceState::Pending => {
            let too_soon = record
                .last_poll
                .is_some_and(|last| r.now.saturating_sub(last) < record.interval);
            if too_soon {
                next.interval = record.interval.saturating_add(SLOW_DOWN_STEP);
            }
            // A lost race is a second poll at the same moment: too fast too.
            let saved =
                r.p.inner
                    .store
                    .update_device_authorization(&key, &next)
                    .await?;
            if too_soon || !saved {
                return Err(err(
                    ErrorCode::SlowDown,
                    &format!("poll at most every {} seconds", next.interval),
                ));
            }
            Err(err(
                ErrorCode::AuthorizationPending,
                "the user has not answered yet",
            ))
        }
        DeviceState::Denied => Err(err(ErrorCode::AccessDenied, "the user denied the request")),
        DeviceState::Redeemed { grant_id } => {
            // As with a replayed code: what it issued is revoked.
            let replayed = (
                "device code used again; its tokens are revoked",
                "the device code was already used",
            );
            super::refuse_replay(r.p, r.client, grant_id, replayed, r.now).await
        }
        DeviceState::Approved(grant) => {
            next.state = DeviceState::Redeemed {
                grant_id: grant.grant_id.clone(),
            };
            if !r
                .p
                .inner
                .store
                .update_device_authorization(&key, &next)
                .await?
            {
                return Err(err(
                    ErrorCode::InvalidGrant,
                    "the device code was already used",
                ));
            }
            issue_tokens(r, grant).await
        }
    }
}

async fn issue_tokens(r: TokenRequest<'_>, grant: &Grant) -> Result<TokenResponse, FlowError> {
    if issue::released_claims(r.p, grant).await?.is_none() {
        return Err(err(ErrorCode::InvalidGrant, "the user no longer exists"));
    }
    let for_token = Grant {
        jkt: r.dpop.map(str::to_owned),
        ..grant.clone()
    };
    let tokens = super::UserTokens {
        for_token: &for_token,
        nonce: None,
        refresh: r.client.allows_grant(GrantType::RefreshToken),
    };
    super::user_tokens(r, grant, tokens).await
}
