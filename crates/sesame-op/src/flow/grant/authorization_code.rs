//! The authorization code grant (RFC 6749 §4.1.3, OIDC Core §3.1.3).

use sesame_core::{ErrorCode, PkceError, pkce_verify};

use super::{TokenRequest, TokenResponse};
use crate::flow::{FlowError, Params, err};
use crate::model::{CodeRecord, CodeUse, Grant, GrantType};
use crate::provider::Provider;
use crate::secrets::token_key;

pub(super) async fn authorization_code(r: TokenRequest<'_>) -> Result<TokenResponse, FlowError> {
    let code = r.form.required("code")?;
    crate::flow::resource::check_before_consuming(r.p, r.client, &token_key(code), r.form, r.now)
        .await?;
    let record = match r
        .p
        .inner
        .store
        .consume_code(&token_key(code), r.now)
        .await?
    {
        None => {
            return Err(err(
                ErrorCode::InvalidGrant,
                "the code is invalid or expired",
            ));
        }
        Some(CodeUse::Replayed { grant_id }) => {
            // RFC 6749 §4.1.2: a replayed code revokes what it issued.
            let replayed = (
                "authorization code replayed; its tokens are revoked",
                "the code was already used",
            );
            return super::refuse_replay(r.p, r.client, &grant_id, replayed, r.now).await;
        }
        Some(CodeUse::First(record)) => *record,
    };
    if record.grant.client_id != r.client.client_id {
        let why = "the code was issued to another client";
        return super::revoke_and_refuse(r.p, &record.grant.grant_id, why, r.now).await;
    }
    // RFC 9449 §10: a code bound with dpop_jkt (or a DPoP proof at PAR)
    // needs a proof made with that key.
    if let Some(jkt) = &record.grant.jkt
        && r.dpop != Some(jkt.as_str())
    {
        return Err(err(
            ErrorCode::InvalidGrant,
            "the code is bound to a DPoP key (dpop_jkt): send a proof made with it",
        ));
    }
    if r.form.get("redirect_uri") != Some(record.redirect_uri.as_str()) {
        return Err(err(
            ErrorCode::InvalidGrant,
            "redirect_uri does not match the authorization request",
        ));
    }
    check_pkce(r.p, &record, r.form)?;
    let grant = record.grant;
    // RFC 8707: this access token may be for some of the authorized resources;
    // the refresh token keeps them all.
    let for_token = Grant {
        resources: crate::flow::resource::narrowed(&grant, r.form)?,
        jkt: r.dpop.map(str::to_owned),
        ..grant.clone()
    };
    let tokens = super::UserTokens {
        for_token: &for_token,
        nonce: record.nonce.as_ref(),
        refresh: r.client.allows_grant(GrantType::RefreshToken),
    };
    super::user_tokens(r, &grant, tokens).await
}

/// The PKCE check (RFC 7636 §4.6), and the refusal of a downgrade.
fn check_pkce(p: &Provider, record: &CodeRecord, form: &Params) -> Result<(), FlowError> {
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
    Ok(())
}
