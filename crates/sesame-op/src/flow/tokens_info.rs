//! UserInfo (OIDC Core §5.3), introspection (RFC 7662) and revocation (RFC 7009).

use serde_json::{Map, Value, json};
use sesame_core::{ErrorCode, TokenTypeHint, UnixTime, jws};

use super::{FlowError, OAuthError, Params, issue};
use crate::model::Client;
use crate::provider::Provider;
use crate::secrets::token_key;

/// A UserInfo answer: JSON, or a signed JWT for clients that registered
/// `userinfo_signed_response_alg`.
#[derive(Debug)]
pub(crate) enum UserInfo {
    Json(Map<String, Value>),
    Jwt(String),
}

fn invalid_token(description: &str) -> FlowError {
    FlowError::OAuth(OAuthError::new(ErrorCode::InvalidToken, description))
}

/// How the access token came: the `DPoP` scheme or `Bearer`, and the
/// thumbprint of the key of a verified DPoP proof sent with it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Presented<'a> {
    pub(crate) dpop_scheme: bool,
    pub(crate) proof_jkt: Option<&'a str>,
}

pub(crate) async fn userinfo(
    p: &Provider,
    access_token: &str,
    presented: Presented<'_>,
    now: UnixTime,
) -> Result<UserInfo, FlowError> {
    let Some(record) = p
        .inner
        .store
        .find_access_token(&token_key(access_token), now)
        .await?
    else {
        return Err(invalid_token(
            "the access token is invalid, expired or revoked",
        ));
    };
    let grant = &record.grant;
    // RFC 9449 §7: a bound token needs the DPoP scheme and a proof made
    // with its key; a bearer token is not accepted as DPoP.
    match (&grant.jkt, presented.dpop_scheme) {
        (Some(jkt), true) if presented.proof_jkt == Some(jkt.as_str()) => {}
        (Some(_), true) => {
            return Err(invalid_token(
                "the DPoP proof is not made with the key the access token is bound to",
            ));
        }
        (Some(_), false) => {
            return Err(invalid_token(
                "the access token is DPoP-bound: send it with the DPoP scheme and a proof",
            ));
        }
        (None, true) => return Err(invalid_token("the access token is not DPoP-bound")),
        (None, false) => {}
    }
    let Some(subject) = &grant.subject else {
        return Err(invalid_token("the access token has no end-user"));
    };
    if !grant.scopes.contains(sesame_core::OPENID) {
        return Err(FlowError::OAuth(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the access token lacks the openid scope",
        )));
    }
    // A deleted client's tokens stop working (RFC 7592 §2.3).
    let Some(client) = p.inner.store.find_client(&grant.client_id).await? else {
        return Err(invalid_token("the client no longer exists"));
    };
    let Some(mut claims) = issue::released_claims(p, grant).await? else {
        return Err(invalid_token("the user no longer exists"));
    };
    // Claims consented one by one go only where the request asked for them.
    let asked = issue::asked_in(grant, "userinfo");
    for name in &grant.claims {
        if !asked.contains(name) {
            claims.remove(name);
        }
    }
    // The same `sub` as in the client's ID tokens (pairwise or public).
    claims.insert(
        "sub".into(),
        json!(p.subject_for(&client, subject)?.as_str()),
    );
    if let Some(alg) = client.userinfo_signed_response_alg {
        let ring = p.key_ring().await;
        let key = ring.signer(alg)?;
        claims.insert("iss".into(), json!(p.inner.issuer.as_str()));
        claims.insert("aud".into(), json!(grant.client_id.as_str()));
        claims.insert("iat".into(), json!(now));
        let token = jws::sign(&key, Some("JWT"), &claims)
            .map_err(|e| FlowError::Internal(e.to_string()))?;
        return Ok(UserInfo::Jwt(token));
    }
    Ok(UserInfo::Json(claims))
}

/// The introspection answer for a live token. `client` is the client the
/// token was issued to: `sub` is the one that client knows (pairwise or
/// public), since a resource server gets the token from that client.
fn active(
    record_grant: &crate::model::Grant,
    client: &Client,
    iat: UnixTime,
    exp: UnixTime,
    p: &Provider,
    token_type: &str,
) -> Result<Map<String, Value>, FlowError> {
    let mut out = Map::new();
    out.insert("active".into(), json!(true));
    out.insert("scope".into(), json!(record_grant.scopes.to_string()));
    out.insert("client_id".into(), json!(record_grant.client_id.as_str()));
    out.insert(
        "token_type".into(),
        json!(if record_grant.jkt.is_some() && token_type == "Bearer" {
            "DPoP"
        } else {
            token_type
        }),
    );
    if let Some(jkt) = &record_grant.jkt {
        out.insert("cnf".into(), json!({"jkt": jkt}));
    }
    out.insert("iat".into(), json!(iat));
    out.insert("exp".into(), json!(exp));
    out.insert("iss".into(), json!(p.inner.issuer.as_str()));
    if let Some(sub) = &record_grant.subject {
        out.insert("sub".into(), json!(p.subject_for(client, sub)?.as_str()));
    }
    if let Some(auth_time) = record_grant.auth_time {
        out.insert("auth_time".into(), json!(auth_time));
    }
    if !record_grant.resources.is_empty() {
        out.insert("aud".into(), json!(record_grant.resources));
    }
    Ok(out)
}

/// RFC 7662: `{"active": false}` for anything unknown, expired or revoked.
pub(crate) async fn introspect(
    p: &Provider,
    caller: &Client,
    form: &Params,
    now: UnixTime,
) -> Result<Map<String, Value>, FlowError> {
    let token = form.get("token").ok_or_else(|| {
        FlowError::OAuth(OAuthError::new(
            ErrorCode::InvalidRequest,
            "token is missing",
        ))
    })?;
    let key = token_key(token);
    let refresh_first = form.get("token_type_hint").and_then(TokenTypeHint::parse)
        == Some(TokenTypeHint::RefreshToken);
    let mut found = None;
    if !refresh_first && let Some(r) = p.inner.store.find_access_token(&key, now).await? {
        found = Some((r.grant, r.issued_at, r.expires_at, "Bearer"));
    }
    if found.is_none()
        && let Some(r) = p.inner.store.find_refresh_token(&key, now).await?
    {
        found = Some((r.grant, r.issued_at, r.expires_at, "refresh_token"));
    }
    if found.is_none()
        && refresh_first
        && let Some(r) = p.inner.store.find_access_token(&key, now).await?
    {
        found = Some((r.grant, r.issued_at, r.expires_at, "Bearer"));
    }
    if let Some((grant, iat, exp, token_type)) = found
        // Only its own tokens, unless the caller is a resource server.
        && (caller.introspect_any_token || grant.client_id == caller.client_id)
        // A deleted client's tokens are no longer active (RFC 7592 §2.3).
        && let Some(client) = p.inner.store.find_client(&grant.client_id).await?
        // A removed user's tokens are no longer active either: the same
        // check userinfo makes (REVIEW S12).
        && issue::released_claims(p, &grant).await?.is_some()
    {
        return active(&grant, &client, iat, exp, p, token_type);
    }
    let mut inactive = Map::new();
    inactive.insert("active".into(), json!(false));
    Ok(inactive)
}

/// RFC 7009: revokes the token if it belongs to `client`; answers success either way.
/// Revoking a refresh token revokes its whole grant.
pub(crate) async fn revoke(
    p: &Provider,
    client: &Client,
    form: &Params,
    now: UnixTime,
) -> Result<(), FlowError> {
    let token = form.get("token").ok_or_else(|| {
        FlowError::OAuth(OAuthError::new(
            ErrorCode::InvalidRequest,
            "token is missing",
        ))
    })?;
    if let Some(hint) = form.get("token_type_hint")
        && TokenTypeHint::parse(hint).is_none()
    {
        return Err(FlowError::OAuth(OAuthError::new(
            ErrorCode::UnsupportedTokenType,
            "token_type_hint must be access_token or refresh_token",
        )));
    }
    let key = token_key(token);
    if let Some(r) = p.inner.store.find_refresh_token(&key, now).await? {
        if r.grant.client_id == client.client_id {
            p.inner
                .store
                .revoke_grant(&r.grant.grant_id, p.revocation_horizon(now))
                .await?;
        }
        return Ok(());
    }
    if let Some(r) = p.inner.store.find_access_token(&key, now).await?
        && r.grant.client_id == client.client_id
    {
        p.inner.store.revoke_access_token(&key).await?;
    }
    Ok(())
}
