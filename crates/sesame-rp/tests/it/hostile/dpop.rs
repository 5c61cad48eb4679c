//! DPoP against the fake: a Bearer token when DPoP was asked for, and the
//! token endpoint's and UserInfo's nonce challenges (RFC 9449 §8, §9),
//! retried once each.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};

use super::*;

/// What the fake does with DPoP.
pub(super) struct FakeDpop {
    /// Advertise `dpop_signing_alg_values_supported`.
    pub(super) advertise: bool,
    /// The `token_type` the token endpoint answers with.
    pub(super) token_type: String,
    /// The nonce each path demands.
    pub(super) nonces: HashMap<&'static str, String>,
    /// Refuse every proof, with a new nonce each time: a server never satisfied.
    pub(super) rotate: bool,
    /// The proofs received: path, their `nonce`, and the Authorization scheme.
    pub(super) seen: Vec<(String, Option<String>, Option<String>)>,
}

impl Default for FakeDpop {
    fn default() -> Self {
        Self {
            advertise: false,
            token_type: "Bearer".into(),
            nonces: HashMap::new(),
            rotate: false,
            seen: Vec::new(),
        }
    }
}

/// Records the request's proof, and refuses it when it lacks the nonce the path demands.
pub(super) fn demand(f: &Fake, path: &'static str, headers: &HeaderMap) -> Option<Response> {
    let proof = headers.get("dpop")?.to_str().ok()?;
    let payload = proof.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    let nonce = claims["nonce"].as_str().map(str::to_owned);
    let scheme = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(' ').next())
        .map(str::to_owned);
    let mut d = f.dpop.lock().unwrap();
    d.seen.push((path.to_owned(), nonce.clone(), scheme));
    let wanted = d.nonces.get(path)?.clone();
    if !d.rotate && nonce.as_deref() == Some(wanted.as_str()) {
        return None;
    }
    let issued = if d.rotate {
        let fresh = format!("{wanted}+");
        d.nonces.insert(path, fresh.clone());
        fresh
    } else {
        wanted
    };
    let mut r = if path == "/token" {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "use_dpop_nonce", "error_description": "use the nonce"})),
        )
            .into_response()
    } else {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        r.headers_mut().insert(
            "www-authenticate",
            "DPoP error=\"use_dpop_nonce\", error_description=\"use the nonce\""
                .parse()
                .unwrap(),
        );
        r
    };
    r.headers_mut()
        .insert("dpop-nonce", issued.parse().unwrap());
    Some(r)
}

fn with_dpop(b: sesame_rp::OidcClientBuilder) -> sesame_rp::OidcClientBuilder {
    b.with_dpop()
}

fn seen(rig: &Rig) -> Vec<(String, Option<String>, Option<String>)> {
    rig.fake.dpop.lock().unwrap().seen.clone()
}

#[tokio::test]
async fn a_bearer_token_is_refused_when_the_provider_advertises_dpop() {
    let rig = rig(|f| f.dpop.lock().unwrap().advertise = true, with_dpop).await;
    let r = rig.login().await;
    assert_ne!(
        r.status(),
        200,
        "a Bearer token accepted although DPoP was asked for"
    );
    assert!(!rig.signed_in().await);
    assert_eq!(rig.fake.userinfo_calls.load(Ordering::SeqCst), 0);
    // The token request carried a proof.
    assert_eq!(seen(&rig).len(), 1);
}

#[tokio::test]
async fn a_bearer_token_from_a_provider_without_dpop_is_used_as_one() {
    let rig = rig(|_| {}, with_dpop).await;
    assert_eq!(rig.login().await.status(), 200);
    assert!(rig.signed_in().await);
    // UserInfo was called with the Bearer scheme: no proof came with it.
    assert_eq!(rig.fake.userinfo_calls.load(Ordering::SeqCst), 1);
    let seen = seen(&rig);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, "/token");
}

#[tokio::test]
async fn nonce_challenges_at_the_token_endpoint_and_userinfo_are_answered_once() {
    let rig = rig(
        |f| {
            let mut d = f.dpop.lock().unwrap();
            d.advertise = true;
            d.token_type = "DPoP".into();
            d.nonces.insert("/token", "n-token".into());
            d.nonces.insert("/userinfo", "n-userinfo".into());
        },
        with_dpop,
    )
    .await;
    assert_eq!(rig.login().await.status(), 200);
    assert!(rig.signed_in().await);
    let some = |s: &str| Some(s.to_owned());
    let dpop = some("DPoP");
    assert_eq!(
        seen(&rig),
        vec![
            ("/token".into(), None, some("Basic")),
            ("/token".into(), some("n-token"), some("Basic")),
            // The origin's last nonce first, then the one UserInfo asks for.
            ("/userinfo".into(), some("n-token"), dpop.clone()),
            ("/userinfo".into(), some("n-userinfo"), dpop),
        ]
    );
}

#[tokio::test]
async fn a_server_that_keeps_asking_for_a_nonce_is_asked_twice_only() {
    let rig = rig(
        |f| {
            let mut d = f.dpop.lock().unwrap();
            d.token_type = "DPoP".into();
            d.nonces.insert("/token", "n".into());
            d.rotate = true;
        },
        with_dpop,
    )
    .await;
    let r = tokio::time::timeout(Duration::from_secs(20), rig.login())
        .await
        .expect("the retry must be bounded");
    assert_ne!(r.status(), 200);
    assert_eq!(rig.fake.token_calls.load(Ordering::SeqCst), 2);
}
