//! The authorization endpoint's checks that need no request state: the
//! `id_token_hint`, the PKCE policy, the consent page's wording and greeting,
//! and the redirect of a request object that failed.

use serde_json::Value;
use sesame_core::{ClientId, Expected, IdTokenValidator, Subject, UnixTime};

use super::{AuthorizeOutcome, ClientRedirect, Request};
use crate::flow::OAuthError;
use crate::flow::Params;
use crate::model::Client;
use crate::provider::Provider;

/// The `sub` of a valid ID token this provider issued to `client_id`
/// (expired ones included: a hint is often old).
pub(crate) async fn verify_hint(
    p: &Provider,
    hint: &str,
    client_id: &ClientId,
    now: UnixTime,
) -> Option<String> {
    let ring = p.key_ring().await;
    let mut validator = IdTokenValidator::new(p.inner.issuer.clone(), client_id.clone())
        .with_algorithms(p.inner.settings.signing_algs.clone());
    // A client with HS* ID tokens: its hints are keyed with its secret.
    let client = p.inner.store.find_client(client_id).await.ok().flatten();
    if let Some(c) = client.filter(|c| c.id_token_signed_response_alg.is_symmetric()) {
        let alg = c.id_token_signed_response_alg;
        let key = c
            .client_secret_jwt_key
            .as_ref()
            .and_then(|s| sesame_core::SigningKey::hmac(alg, s.secret().as_bytes()).ok());
        if let Some(key) = key {
            let mut algs = p.inner.settings.signing_algs.clone();
            algs.push(alg);
            validator = validator.with_algorithms(algs).with_hmac_secret(key);
        }
    }
    // Validate as of the token's own issue time so that expiry does not matter,
    // while signature, issuer and audience do.
    let iat = sesame_core::UnverifiedJws::parse(hint)
        .ok()
        .and_then(|j| j.insecure_payload().ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v.get("iat").and_then(Value::as_i64))
        .filter(|iat| *iat <= now + 60)?;
    validator
        .validate(hint, &ring.verify, iat, &Expected::default())
        .ok()
        .map(|t| t.claims.sub.into_string())
}

/// The name a consent page greets `subject` by: the first of `name`,
/// `preferred_username` and `email` the claims source has, or the subject.
pub(crate) async fn display_name(p: &Provider, subject: &Subject) -> String {
    p.inner
        .claims
        .claims(subject)
        .await
        .ok()
        .flatten()
        .and_then(|c| {
            ["name", "preferred_username", "email"]
                .iter()
                .find_map(|k| c.get(*k).and_then(Value::as_str).map(str::to_owned))
        })
        .unwrap_or_else(|| subject.as_str().to_owned())
}

/// Plain words for a scope on the consent page.
pub(crate) fn describe_scope(scope: &str) -> String {
    match scope {
        "openid" => "Know who you are (your account identifier)".into(),
        "profile" => "See your profile: name, username, picture, locale".into(),
        "email" => "See your email address".into(),
        "address" => "See your postal address".into(),
        "phone" => "See your phone number".into(),
        "offline_access" => "Stay connected when you are not using it (refresh tokens)".into(),
        other => format!("Use the \u{201c}{other}\u{201d} permission"),
    }
}

/// A request object that failed: back to the client when the query's
/// `redirect_uri` is registered (with the query's `state`), else a page.
pub(super) fn request_object_error(
    params: &Params,
    client: &Client,
    p: &Provider,
    e: OAuthError,
) -> AuthorizeOutcome {
    let registered = params
        .get("redirect_uri")
        .and_then(|r| client.redirect_uris.iter().find(|u| u.as_str() == r))
        .cloned();
    let Some(redirect_uri) = registered else {
        return AuthorizeOutcome::ErrorPage(e);
    };
    let redirect = ClientRedirect::new(p, client, redirect_uri, params);
    Request {
        client: client.clone(),
        redirect,
        pushed_origin: None,
    }
    .error(e.code, &e.description)
}

/// The consent page's line for a claim asked for by name.
pub(crate) fn describe_claim(claim: &str) -> String {
    let what = match claim {
        "name" => "your name",
        "given_name" => "your given name",
        "family_name" => "your family name",
        "preferred_username" => "your username",
        "email" => "your email address",
        "email_verified" => "whether your email address is verified",
        "phone_number" => "your phone number",
        "address" => "your postal address",
        "groups" => "the groups you belong to",
        "picture" => "your picture",
        "locale" => "your language",
        other => return format!("See your {other}"),
    };
    format!("See {what}")
}

/// Why a code request without PKCE is refused, or `None` when it may go on
/// (RFC 9700 §2.1.1): public clients always need PKCE, and so does every
/// client when the provider or the client requires it; a confidential
/// client may instead send a `nonce`, which the ID token carries back and
/// the client checks (OIDC Core §3.1.3.7), so an injected code fails there.
/// A request with neither defence is refused. A code issued without a
/// challenge refuses a `code_verifier` at the token endpoint (downgrade).
pub(super) fn pkce_required(
    p: &Provider,
    client: &Client,
    has_nonce: bool,
) -> Option<&'static str> {
    if client.is_public() {
        Some(
            "PKCE is required for public clients: send code_challenge with code_challenge_method=S256",
        )
    } else if p.inner.settings.require_pkce || client.require_pkce {
        Some("PKCE is required: send code_challenge with code_challenge_method=S256")
    } else if !has_nonce && p.inner.settings.require_pkce_or_nonce {
        Some(
            "send PKCE (code_challenge with code_challenge_method=S256) or a nonce: \
             a code request needs one of them against code injection",
        )
    } else {
        None
    }
}
