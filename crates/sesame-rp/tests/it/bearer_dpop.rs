//! BearerAuth as a resource server for DPoP-bound tokens (RFC 9449 §7),
//! with tokens from sesame-op: every way a proof can fail is refused.

use axum::Router;
use axum::routing::get;
use sesame_core::dpop::{DpopKey, ProofTarget};
use sesame_core::{Clock, Issuer, SystemClock};
use sesame_rp::{BearerAuth, BearerClaims, OidcClient};

use crate::support::*;

const AUDIENCE: &str = "https://api.example";

async fn serve(listener: tokio::net::TcpListener, layer: BearerAuth) {
    let app = Router::new()
        .route(
            "/api/whoami",
            get(|t: BearerClaims| async move { t.subject.unwrap_or_default() }),
        )
        .layer(layer);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

/// A DPoP-bound access token for `svc`, bound to `key`.
async fn bound_token(op: &Op, key: &DpopKey) -> String {
    let url = format!("{}/token", op.base);
    let proof = key
        .proof(&ProofTarget::new("POST", &url), SystemClock.now())
        .unwrap();
    let v: serde_json::Value = reqwest::Client::new()
        .post(&url)
        .basic_auth("svc", Some(SECRET))
        .header("DPoP", proof)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "read"),
            ("resource", AUDIENCE),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["token_type"], "DPoP", "{v}");
    v["access_token"].as_str().unwrap().to_owned()
}

async fn setup(op: &Op, jwt: bool) {
    op.register("svc", "http://127.0.0.1:9", |c| {
        c.jwt_access_tokens = jwt;
        c.dpop_bound_access_tokens = true;
        c.allowed_scopes = Some(sesame_core::Scopes::parse("read").unwrap());
        c.allowed_resources = vec![AUDIENCE.into()];
    })
    .await;
    op.register("api", "http://127.0.0.1:9", |c| {
        c.introspect_any_token = true
    })
    .await;
}

async fn oidc_for(op: &Op) -> OidcClient {
    OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "api")
        .with_client_secret(SECRET)
        .with_redirect_uri("http://127.0.0.1:9/callback".parse().unwrap())
        .build()
        .await
        .unwrap()
}

struct Call<'a> {
    scheme: &'a str,
    token: &'a str,
    proof: Option<String>,
}

async fn call(url: &str, c: Call<'_>) -> (u16, String) {
    let mut r = reqwest::Client::new()
        .get(url)
        .header("Authorization", format!("{} {}", c.scheme, c.token));
    if let Some(p) = c.proof {
        r = r.header("DPoP", p);
    }
    let r = r.send().await.unwrap();
    let challenge = r
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(" | ");
    (r.status().as_u16(), challenge)
}

/// The rejections, one per check; `url` is the API's `/api/whoami`.
async fn every_fault_is_refused(url: &str, token: &str, key: &DpopKey) {
    let now = SystemClock.now();
    let proof = |method: &str, u: &str, ath: &str, iat: i64, k: &DpopKey| {
        k.proof(&ProofTarget::new(method, u).with_access_token(ath), iat)
            .unwrap()
    };
    let dpop = |p: Option<String>| Call {
        scheme: "DPoP",
        token,
        proof: p,
    };
    // The good request, then its replay.
    let good = proof("GET", url, token, now, key);
    assert_eq!(call(url, dpop(Some(good.clone()))).await.0, 200);
    let (s, ch) = call(url, dpop(Some(good))).await;
    assert_eq!(s, 401, "replayed proof accepted");
    assert!(
        ch.contains("invalid_dpop_proof") && ch.contains("already used"),
        "{ch}"
    );
    // A bound token as a Bearer token.
    let (s, ch) = call(
        url,
        Call {
            scheme: "Bearer",
            token,
            proof: Some(proof("GET", url, token, now, key)),
        },
    )
    .await;
    assert_eq!(s, 401, "bound token accepted as Bearer");
    assert!(ch.starts_with("DPoP error=\"invalid_token\""), "{ch}");
    assert!(ch.contains("algs=\"ES256"), "{ch}");
    // The DPoP scheme without a proof.
    let (s, ch) = call(url, dpop(None)).await;
    assert_eq!(s, 401, "token without proof accepted");
    assert!(ch.contains("invalid_dpop_proof"), "{ch}");
    let other = DpopKey::generate().unwrap();
    let cases = [
        (
            "wrong ath",
            proof("GET", url, "another-token", now, key),
            "ath",
        ),
        ("wrong htm", proof("POST", url, token, now, key), "htm"),
        (
            "wrong htu",
            proof("GET", &url.replace("whoami", "other"), token, now, key),
            "htu",
        ),
        ("another key", proof("GET", url, token, now, &other), "key"),
        ("stale iat", proof("GET", url, token, now - 400, key), "iat"),
    ];
    for (what, p, word) in cases {
        let (s, ch) = call(url, dpop(Some(p))).await;
        assert_eq!(s, 401, "{what} accepted");
        assert!(
            ch.contains("invalid_dpop_proof") && ch.contains(word),
            "{what}: {ch}"
        );
    }
}

#[tokio::test]
async fn dpop_bound_jwt_access_tokens_need_a_valid_proof() {
    let op = start_op().await;
    setup(&op, true).await;
    let (listener, base) = rp_listener().await;
    let auth = BearerAuth::jwt(oidc_for(&op).await, AUDIENCE).with_public_url(&base);
    serve(listener, auth).await;
    let key = DpopKey::generate().unwrap();
    let token = bound_token(&op, &key).await;
    assert_eq!(token.split('.').count(), 3, "a JWT access token");
    every_fault_is_refused(&format!("{base}/api/whoami"), &token, &key).await;
}

#[tokio::test]
async fn dpop_bound_introspected_tokens_need_a_valid_proof() {
    let op = start_op().await;
    setup(&op, false).await;
    let (listener, base) = rp_listener().await;
    let auth = BearerAuth::introspection(oidc_for(&op).await, 60).with_public_url(&base);
    serve(listener, auth).await;
    let key = DpopKey::generate().unwrap();
    let token = bound_token(&op, &key).await;
    every_fault_is_refused(&format!("{base}/api/whoami"), &token, &key).await;
}

#[tokio::test]
async fn an_unbound_token_is_not_accepted_with_the_dpop_scheme_and_a_missing_token_gets_both_challenges()
 {
    let op = start_op().await;
    op.register("plain", "http://127.0.0.1:9", |c| {
        c.jwt_access_tokens = true;
        c.allowed_resources = vec![AUDIENCE.into()];
    })
    .await;
    op.register("api", "http://127.0.0.1:9", |_| {}).await;
    let (listener, base) = rp_listener().await;
    serve(
        listener,
        BearerAuth::jwt(oidc_for(&op).await, AUDIENCE).with_public_url(&base),
    )
    .await;
    let v: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/token", op.base))
        .basic_auth("plain", Some(SECRET))
        .form(&[("grant_type", "client_credentials"), ("resource", AUDIENCE)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = v["access_token"].as_str().unwrap();
    let url = format!("{base}/api/whoami");
    let key = DpopKey::generate().unwrap();
    let p = key
        .proof(
            &ProofTarget::new("GET", &url).with_access_token(token),
            SystemClock.now(),
        )
        .unwrap();
    let bearer = Call {
        scheme: "Bearer",
        token,
        proof: None,
    };
    assert_eq!(call(&url, bearer).await.0, 200);
    let (s, ch) = call(
        &url,
        Call {
            scheme: "DPoP",
            token,
            proof: Some(p),
        },
    )
    .await;
    assert_eq!(s, 401);
    assert!(ch.contains("not DPoP-bound"), "{ch}");
    let r = reqwest::Client::new().get(&url).send().await.unwrap();
    let challenges: Vec<_> = r.headers().get_all("www-authenticate").iter().collect();
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    assert!(challenges[1].to_str().unwrap().starts_with("DPoP algs="));
}

#[tokio::test]
async fn without_a_public_url_bound_tokens_are_refused() {
    let op = start_op().await;
    setup(&op, true).await;
    let (listener, base) = rp_listener().await;
    serve(listener, BearerAuth::jwt(oidc_for(&op).await, AUDIENCE)).await;
    let key = DpopKey::generate().unwrap();
    let token = bound_token(&op, &key).await;
    let url = format!("{base}/api/whoami");
    let p = key
        .proof(
            &ProofTarget::new("GET", &url).with_access_token(&token),
            SystemClock.now(),
        )
        .unwrap();
    let (s, ch) = call(
        &url,
        Call {
            scheme: "DPoP",
            token: &token,
            proof: Some(p),
        },
    )
    .await;
    assert_eq!(s, 401);
    assert!(ch.contains("invalid_dpop_proof"), "{ch}");
}
