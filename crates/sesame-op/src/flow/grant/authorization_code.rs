//! The authorization code grant (RFC 6749 §4.1.3, OIDC Core §3.1.3).

use sesame_core::{ErrorCode, PkceError, pkce_verify};

use super::{TokenRequest, TokenResponse};
use crate::flow::{FlowError, Params, err};
use crate::model::{CodeRecord, CodeUse, Grant, GrantType};
use crate::provider::Provider;
use crate::secrets::token_key;

pub(super) async fn authorization_code(r: TokenRequest<'_>) -> Result<TokenResponse, FlowError> {
    let code = r.form.required("code")?;
    let key = token_key(code);
    crate::flow::resource::check_before_consuming(r.p, r.client, &key, r.form, r.now).await?;
    let store = &r.p.inner.store;
    // The request is checked against a read of the code, then the code is
    // redeemed and the tokens saved in one write (single use holds there: it
    // saves only if the code is still unused). A store that cannot read a
    // code without consuming it takes the consuming path.
    let Some(record) = store.find_code(&key, r.now).await? else {
        return consume_first(r, &key).await;
    };
    if let Err(refused) = check(r, &record) {
        // A refused request spends the code, as when it was consumed first.
        if let Some(grant_id) = spend(r, &key).await? {
            return replayed(r, &grant_id).await;
        }
        return refuse(r, &record, refused).await;
    }
    let (grant, for_token) = grants_of(r, record.grant)?;
    let tokens = user_tokens(r, record.nonce.as_ref(), &for_token);
    let (answer, issued) = match super::new_user_tokens(r, &grant, tokens).await {
        Ok(minted) => minted,
        // Nothing minted (the user is gone, no signing key): the code is
        // spent all the same, as when it was consumed first.
        Err(e) => {
            if let Some(grant_id) = spend(r, &key).await? {
                return replayed(r, &grant_id).await;
            }
            return Err(e);
        }
    };
    if store.redeem_code(&key, r.now, &issued).await? {
        return Ok(answer);
    }
    // Used (or gone) between the read and the redemption: what was minted is
    // dropped, unsaved, and the code is refused as the consuming path would.
    match spend(r, &key).await? {
        Some(grant_id) => replayed(r, &grant_id).await,
        None => Err(unusable()),
    }
}

/// Consumes the code after a refusal; the grant id when it had been used
/// already (a replay, to be refused as one).
async fn spend(r: TokenRequest<'_>, key: &str) -> Result<Option<String>, FlowError> {
    Ok(match r.p.inner.store.consume_code(key, r.now).await? {
        Some(CodeUse::Replayed { grant_id }) => Some(grant_id),
        _ => None,
    })
}

/// The code grant for a store without [`crate::store::GrantStore::find_code`]
/// (or a code it does not find): consume, check, then mint and save.
async fn consume_first(r: TokenRequest<'_>, key: &str) -> Result<TokenResponse, FlowError> {
    let record = match r.p.inner.store.consume_code(key, r.now).await? {
        None => return Err(unusable()),
        Some(CodeUse::Replayed { grant_id }) => return replayed(r, &grant_id).await,
        Some(CodeUse::First(record)) => *record,
    };
    if let Err(refused) = check(r, &record) {
        return refuse(r, &record, refused).await;
    }
    let (grant, for_token) = grants_of(r, record.grant)?;
    super::user_tokens(r, &grant, user_tokens(r, record.nonce.as_ref(), &for_token)).await
}

fn unusable() -> FlowError {
    err(ErrorCode::InvalidGrant, "the code is invalid or expired")
}

/// RFC 6749 §4.1.2: a replayed code revokes what it issued.
async fn replayed(r: TokenRequest<'_>, grant_id: &str) -> Result<TokenResponse, FlowError> {
    let replayed = (
        "authorization code replayed; its tokens are revoked",
        "the code was already used",
    );
    super::refuse_replay(r.p, r.client, grant_id, replayed, r.now).await
}

/// Why [`check`] refused a code exchange.
enum Refused {
    /// The code is another client's: its grant is revoked.
    OtherClient,
    Request(FlowError),
}

async fn refuse(
    r: TokenRequest<'_>,
    record: &CodeRecord,
    refused: Refused,
) -> Result<TokenResponse, FlowError> {
    match refused {
        Refused::OtherClient => {
            let why = "the code was issued to another client";
            super::revoke_and_refuse(r.p, &record.grant.grant_id, why, r.now).await
        }
        Refused::Request(e) => Err(e),
    }
}

/// The request against the code: its client, DPoP key, redirect URI, PKCE.
fn check(r: TokenRequest<'_>, record: &CodeRecord) -> Result<(), Refused> {
    if record.grant.client_id != r.client.client_id {
        return Err(Refused::OtherClient);
    }
    // RFC 9449 §10: a code bound with dpop_jkt (or a DPoP proof at PAR)
    // needs a proof made with that key.
    if let Some(jkt) = &record.grant.jkt
        && r.dpop != Some(jkt.as_str())
    {
        return Err(Refused::Request(err(
            ErrorCode::InvalidGrant,
            "the code is bound to a DPoP key (dpop_jkt): send a proof made with it",
        )));
    }
    if r.form.get("redirect_uri") != Some(record.redirect_uri.as_str()) {
        return Err(Refused::Request(err(
            ErrorCode::InvalidGrant,
            "redirect_uri does not match the authorization request",
        )));
    }
    check_pkce(r.p, record, r.form).map_err(Refused::Request)
}

/// A checked code's grant, and the grant its access token is for (RFC 8707:
/// some of the authorized resources; the refresh token keeps them all),
/// bound to the request's DPoP key.
fn grants_of(r: TokenRequest<'_>, grant: Grant) -> Result<(Grant, Grant), FlowError> {
    let for_token = Grant {
        resources: crate::flow::resource::narrowed(&grant, r.form)?,
        jkt: r.dpop.map(str::to_owned),
        ..grant.clone()
    };
    Ok((grant, for_token))
}

fn user_tokens<'a>(
    r: TokenRequest<'_>,
    nonce: Option<&'a sesame_core::Nonce>,
    for_token: &'a Grant,
) -> super::UserTokens<'a> {
    super::UserTokens {
        for_token,
        nonce,
        refresh: r.client.allows_grant(GrantType::RefreshToken),
    }
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
