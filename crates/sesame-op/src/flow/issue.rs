//! Minting codes and tokens.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use sesame_core::{
    AccessToken, Audience, AuthorizationCode, IdTokenClaims, JwsAlgorithm, Nonce, RefreshToken,
    SigningKey, UnixTime, jws, random, token_hash,
};

use super::{FlowError, OAuthError};
use crate::model::{AccessTokenRecord, Client, CodeRecord, Grant, RefreshTokenRecord};
use crate::provider::Provider;
use crate::secrets::token_key;

pub(crate) fn new_grant_id() -> Result<String, FlowError> {
    Ok(random::token()?)
}

pub(crate) async fn mint_code(
    p: &Provider,
    record: &CodeRecord,
) -> Result<AuthorizationCode, FlowError> {
    let code = AuthorizationCode::random()?;
    p.inner
        .store
        .save_code(&token_key(code.secret()), record)
        .await?;
    Ok(code)
}

/// An access token (opaque, or RFC 9068 JWT for clients that asked), stored by hash either way
/// so that revocation and introspection work the same.
pub(crate) async fn mint_access_token(
    p: &Provider,
    client: &Client,
    grant: &Grant,
    now: UnixTime,
) -> Result<(AccessToken, i64), FlowError> {
    let (token, ttl, record) = new_access_token(p, client, grant, now).await?;
    p.inner
        .store
        .save_access_token(&token_key(token.secret()), &record)
        .await?;
    Ok((token, ttl))
}

/// What [`mint_access_token`] makes, not yet saved: the token, its lifetime
/// and the record to save under its key.
pub(crate) async fn new_access_token(
    p: &Provider,
    client: &Client,
    grant: &Grant,
    now: UnixTime,
) -> Result<(AccessToken, i64, AccessTokenRecord), FlowError> {
    let ttl = p.inner.settings.access_token_ttl;
    let token = if client.jwt_access_tokens {
        let ring = p.key_ring().await;
        // Resource servers verify with the provider's keys: never the
        // client's secret, even for a client with HS* ID tokens.
        let key = ring.signer(provider_alg(p, client.id_token_signed_response_alg))?;
        let aud: Value = if grant.resources.is_empty() {
            json!(client.client_id.as_str())
        } else {
            json!(grant.resources)
        };
        // The user as this client knows them (pairwise or public); the
        // client itself for client_credentials.
        let sub = match &grant.subject {
            Some(s) => p.subject_for(client, s)?.into_string(),
            None => client.client_id.as_str().to_owned(),
        };
        let mut claims = json!({
            "iss": p.inner.issuer.as_str(),
            "sub": sub,
            "aud": aud,
            "client_id": client.client_id.as_str(),
            "iat": now,
            "exp": now + ttl,
            "jti": random::token()?,
            "scope": grant.scopes.to_string(),
        });
        if let (Some(auth_time), Some(obj)) = (grant.auth_time, claims.as_object_mut()) {
            obj.insert("auth_time".into(), json!(auth_time));
        }
        if let (Some(jkt), Some(obj)) = (&grant.jkt, claims.as_object_mut()) {
            obj.insert("cnf".into(), json!({"jkt": jkt}));
        }
        AccessToken::new(
            jws::sign(&key, Some("at+jwt"), &claims)
                .map_err(|e| FlowError::Internal(e.to_string()))?,
        )
    } else {
        AccessToken::random()?
    };
    let record = AccessTokenRecord {
        grant: grant.clone(),
        issued_at: now,
        expires_at: now + ttl,
    };
    Ok((token, ttl, record))
}

pub(crate) async fn mint_refresh_token(
    p: &Provider,
    grant: &Grant,
    now: UnixTime,
) -> Result<RefreshToken, FlowError> {
    let (token, record) = new_refresh_token(p, grant, now)?;
    p.inner
        .store
        .save_refresh_token(&token_key(token.secret()), &record)
        .await?;
    Ok(token)
}

/// What [`mint_refresh_token`] makes, not yet saved.
pub(crate) fn new_refresh_token(
    p: &Provider,
    grant: &Grant,
    now: UnixTime,
) -> Result<(RefreshToken, RefreshTokenRecord), FlowError> {
    let record = RefreshTokenRecord {
        grant: grant.clone(),
        issued_at: now,
        expires_at: now + p.inner.settings.refresh_token_ttl,
    };
    Ok((RefreshToken::random()?, record))
}

/// The claims the grant's `claims` request names under `member`
/// (`id_token` or `userinfo`).
pub(crate) fn asked_in(grant: &Grant, member: &str) -> Vec<String> {
    grant
        .claims_request
        .as_ref()
        .and_then(|r| r.get(member))
        .and_then(Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// The key of `client`'s ID tokens (and logout tokens): the provider's
/// active key of the client's algorithm, or, for HS256/384/512 (OIDC Core
/// §10.1), an HMAC key from the client's secret, which the provider keeps
/// sealed for such clients ([`Client::client_secret_jwt_key`]).
pub(crate) async fn id_token_key(
    p: &Provider,
    client: &Client,
) -> Result<Arc<SigningKey>, FlowError> {
    let alg = client.id_token_signed_response_alg;
    if alg.is_symmetric() {
        let secret = client.client_secret_jwt_key.as_ref().ok_or_else(|| {
            FlowError::Internal(format!(
                "client {} has {alg} ID tokens but no kept secret to key them",
                client.client_id.as_str()
            ))
        })?;
        return SigningKey::hmac(alg, secret.secret().as_bytes())
            .map(Arc::new)
            .map_err(|e| FlowError::Internal(e.to_string()));
    }
    Ok(p.key_ring().await.signer(alg)?)
}

/// `alg` when the provider signs with it, else its first algorithm (for
/// what must carry the provider's own signature whatever the client's ID
/// tokens use).
pub(crate) fn provider_alg(p: &Provider, alg: JwsAlgorithm) -> JwsAlgorithm {
    if alg.is_symmetric() {
        p.inner
            .settings
            .signing_algs
            .iter()
            .copied()
            .find(|a| *a == JwsAlgorithm::RS256)
            .or_else(|| p.inner.settings.signing_algs.first().copied())
            .unwrap_or(JwsAlgorithm::RS256)
    } else {
        alg
    }
}

/// The user's claims released by the grant's scopes. `None` when the user no longer exists.
pub(crate) async fn released_claims(
    p: &Provider,
    grant: &Grant,
) -> Result<Option<Map<String, Value>>, FlowError> {
    let Some(subject) = &grant.subject else {
        return Ok(Some(Map::new()));
    };
    let all = p
        .inner
        .claims
        .claims(subject)
        .await
        .map_err(|e| FlowError::Internal(e.to_string()))?;
    Ok(all.map(|all| {
        let mut out = p.inner.scopes.release(&all, &grant.scopes);
        // Claims the user consented to one by one (the claims parameter).
        for name in grant.claims.iter().filter(|n| n.as_str() != "sub") {
            if let Some(v) = all.get(name) {
                out.insert(name.clone(), v.clone());
            }
        }
        out
    }))
}

pub(crate) struct IdTokenInput<'a> {
    pub(crate) nonce: Option<&'a Nonce>,
    pub(crate) access_token: Option<&'a AccessToken>,
    pub(crate) code: Option<&'a AuthorizationCode>,
}

pub(crate) async fn mint_id_token(
    p: &Provider,
    client: &Client,
    grant: &Grant,
    input: IdTokenInput<'_>,
    now: UnixTime,
) -> Result<String, FlowError> {
    let subject = grant
        .subject
        .as_ref()
        .ok_or_else(|| FlowError::Internal("an ID token needs a subject".into()))?;
    let subject = p.subject_for(client, subject)?;
    let alg = client.id_token_signed_response_alg;
    let key = id_token_key(p, client).await?;
    let mut claims = IdTokenClaims::new(
        p.inner.issuer.as_str(),
        subject,
        Audience::single(client.client_id.as_str()),
        now,
        now + p.inner.settings.id_token_ttl,
    );
    claims.auth_time = grant.auth_time;
    claims.nonce = input.nonce.cloned();
    claims.sid = grant.sid.as_ref().map(|s| p.sid_for(&client.client_id, s));
    claims.acr = grant.acr.clone();
    claims.amr = grant.amr.clone();
    claims.at_hash = input.access_token.map(|t| token_hash(alg, t.secret()));
    claims.c_hash = input.code.map(|c| token_hash(alg, c.secret()));
    let wants_claims = p.inner.settings.claims_in_id_token || input.access_token.is_none();
    if wants_claims || grant.claims_request.is_some() {
        let Some(mut released) = released_claims(p, grant).await? else {
            return Err(OAuthError::new(
                sesame_core::ErrorCode::InvalidGrant,
                "the user no longer exists",
            )
            .into());
        };
        // Claims consented one by one go only where the request asked for them.
        for name in &grant.claims {
            if !asked_in(grant, "id_token").contains(name) {
                released.remove(name);
            }
        }
        if !wants_claims {
            // Only what the claims request asked for in the ID token.
            let asked: Vec<String> = grant
                .claims_request
                .as_ref()
                .and_then(|r| r.get("id_token"))
                .and_then(Value::as_object)
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            released.retain(|k, _| asked.contains(k));
        }
        for reserved in [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "nbf",
            "auth_time",
            "nonce",
            "sid",
            "acr",
            "amr",
            "azp",
            "at_hash",
            "c_hash",
            "jti",
            "events",
        ] {
            released.remove(reserved);
        }
        claims.extra = released;
    }
    jws::sign(&key, Some("JWT"), &claims).map_err(|e| FlowError::Internal(e.to_string()))
}
