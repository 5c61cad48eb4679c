//! BearerAuth against sesame-op: RFC 9068 JWT access tokens and introspection.

use axum::Router;
use axum::routing::get;
use sesame_core::Issuer;
use sesame_rp::{BearerAuth, BearerClaims, OidcClient};

use crate::support::*;

async fn api(layer: BearerAuth) -> String {
    let (listener, base) = rp_listener().await;
    let app = Router::new()
        .route(
            "/api/whoami",
            get(|t: BearerClaims| async move {
                format!("{}:{}", t.subject.unwrap_or_default(), t.scopes.join(","))
            }),
        )
        .layer(layer);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

async fn cc_token(op: &Op, client: &str, extra: &[(&str, &str)]) -> String {
    let mut form = vec![("grant_type", "client_credentials"), ("scope", "read")];
    form.extend_from_slice(extra);
    let v: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/token", op.base))
        .basic_auth(client, Some(SECRET))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_owned()
}

async fn oidc_for(op: &Op, client: &str) -> OidcClient {
    OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), client)
        .with_client_secret(SECRET)
        .with_redirect_uri("http://127.0.0.1:9/callback".parse().unwrap())
        .with_algorithms([sesame_core::JwsAlgorithm::RS256])
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn jwt_access_tokens_are_checked_locally() {
    let op = start_op().await;
    op.register("svc", "http://127.0.0.1:9", |c| {
        c.jwt_access_tokens = true;
        c.allowed_scopes = Some(sesame_core::Scopes::parse("read").unwrap());
        c.allowed_resources = vec!["https://api.example".into()];
    })
    .await;
    op.register("api", "http://127.0.0.1:9", |_| {}).await;
    let base = api(BearerAuth::jwt(
        oidc_for(&op, "api").await,
        "https://api.example",
    ))
    .await;
    let http = reqwest::Client::new();
    let good = cc_token(&op, "svc", &[("resource", "https://api.example")]).await;
    let r = http
        .get(format!("{base}/api/whoami"))
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "svc:read");

    // No token, a token for another audience, a tampered token, garbage.
    let r = http.get(format!("{base}/api/whoami")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let other = cc_token(&op, "svc", &[]).await;
    let r = http
        .get(format!("{base}/api/whoami"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    for bad in [tampered.as_str(), "garbage", "a.b.c"] {
        let r = http
            .get(format!("{base}/api/whoami"))
            .bearer_auth(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{bad}");
    }
}

#[tokio::test]
async fn id_tokens_are_not_access_tokens() {
    let op = start_op().await;
    let (listener, rp) = rp_listener().await;
    op.register("rp", &rp, |_| {}).await;
    let oidc = OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
        .with_client_secret(SECRET)
        .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
        .build()
        .await
        .unwrap();
    rp_app(oidc.clone(), listener).await;
    let b = browser();
    follow(&b, &format!("{rp}/account"), "ann").await;
    let me: serde_json::Value = b
        .get(format!("{rp}/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["sub"], "ann");
    // Use the session's ID token (aud = rp) as a bearer token for an API whose
    // audience is "rp": refused, because it is not an RFC 9068 access token.
    let id_token = b
        .get(format!("{rp}/id-token"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(id_token.split('.').count(), 3);
    let err = BearerAuth::jwt(oidc.clone(), "rp")
        .check(&id_token)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("typ"), "{err}");
}

#[tokio::test]
async fn opaque_tokens_are_introspected_and_revocation_is_seen() {
    let op = start_op().await;
    op.register("svc", "http://127.0.0.1:9", |c| {
        c.allowed_scopes = Some(sesame_core::Scopes::parse("read").unwrap())
    })
    .await;
    op.register("rs", "http://127.0.0.1:9", |c| {
        c.introspect_any_token = true
    })
    .await;
    // cache_ttl 0: every request asks the provider.
    let base = api(BearerAuth::introspection(oidc_for(&op, "rs").await, 0)).await;
    let http = reqwest::Client::new();
    let token = cc_token(&op, "svc", &[]).await;
    let r = http
        .get(format!("{base}/api/whoami"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), ":read");
    // Revoked at the provider: refused.
    let r = http
        .post(format!("{}/revoke", op.base))
        .basic_auth("svc", Some(SECRET))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .get(format!("{base}/api/whoami"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(format!("{base}/api/whoami"))
        .bearer_auth("made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// A refresh token of `client` (registered for `http://127.0.0.1:9`), from a
/// code flow with `offline_access`.
async fn refresh_token(op: &Op, client: &str) -> String {
    let callback = "http://127.0.0.1:9/callback";
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", callback),
        ("scope", "openid offline_access"),
        ("state", "s"),
        ("nonce", "n"),
    ])
    .unwrap();
    let start = format!("{}/authorize?{query}", op.base);
    let at = until_callback(&browser(), &start, "ann", callback).await;
    let code = url::Url::parse(&at)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let v: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/token", op.base))
        .basic_auth(client, Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", callback),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_owned()
}

async fn status(api: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{api}/api/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// REVIEW S8: the provider answers `active: true` for a refresh token and for
/// an access token issued for another resource; neither is a bearer
/// credential for this API.
#[tokio::test]
async fn introspected_refresh_tokens_and_tokens_for_other_audiences_are_refused() {
    let op = start_op().await;
    op.register("svc", "http://127.0.0.1:9", |c| {
        c.allowed_scopes = Some(sesame_core::Scopes::parse("read").unwrap());
        c.allowed_resources = vec!["https://api.example".into(), "https://other.example".into()];
    })
    .await;
    op.register("web", "http://127.0.0.1:9", |_| {}).await;
    op.register("rs", "http://127.0.0.1:9", |c| {
        c.introspect_any_token = true
    })
    .await;
    let any = api(BearerAuth::introspection(oidc_for(&op, "rs").await, 0)).await;
    let only_api = api(BearerAuth::introspection(oidc_for(&op, "rs").await, 0)
        .with_audience("https://api.example"))
    .await;
    let plain = cc_token(&op, "svc", &[]).await;
    assert_eq!(status(&any, &plain).await, 200, "an access token");
    let refresh = refresh_token(&op, "web").await;
    assert_eq!(status(&any, &refresh).await, 401, "a refresh token");
    let for_api = cc_token(&op, "svc", &[("resource", "https://api.example")]).await;
    let for_other = cc_token(&op, "svc", &[("resource", "https://other.example")]).await;
    assert_eq!(status(&only_api, &for_api).await, 200, "this API's token");
    assert_eq!(
        status(&only_api, &for_other).await,
        401,
        "another API's token"
    );
    assert_eq!(
        status(&only_api, &plain).await,
        401,
        "a token naming no API"
    );
    assert_eq!(status(&only_api, &refresh).await, 401);
}

/// A refused introspection answer is cached for 10 s (at most `cache_ttl`):
/// a flood of one forged token reaches the provider once per token per window.
#[tokio::test]
async fn a_flood_of_forged_tokens_is_introspected_once_per_token_per_window() {
    let op = start_op().await;
    op.register("rs", "http://127.0.0.1:9", |c| {
        c.introspect_any_token = true
    })
    .await;
    let clock = sesame_core::TestClock::at(sesame_core::Clock::now(&sesame_core::SystemClock));
    let oidc = OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rs")
        .with_client_secret(SECRET)
        .with_redirect_uri("http://127.0.0.1:9/callback".parse().unwrap())
        .with_clock(clock.clone())
        .build()
        .await
        .unwrap();
    let base = api(BearerAuth::introspection(oidc, 60)).await;
    for window in 1..=2 {
        for token in ["forged-one", "forged-two"] {
            for _ in 0..25 {
                assert_eq!(status(&base, token).await, 401);
            }
        }
        assert_eq!(
            op.hits.of("/introspect"),
            2 * window,
            "one introspection per forged token in window {window}"
        );
        clock.advance(9);
        assert_eq!(status(&base, "forged-one").await, 401);
        assert_eq!(op.hits.of("/introspect"), 2 * window, "still cached at 9 s");
        clock.advance(1);
    }
}
