//! RFC 8707 resource indicators at the authorization endpoint, carried by the
//! code and the refresh tokens, narrowed at the token endpoint.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::support::*;

const API1: &str = "https://api.example/orders";
const API2: &str = "https://files.example/";

/// A code flow for alice asking for `resources`: the redirect's parameters
/// (with `code_verifier`).
async fn authorize_for(h: &Harness, client: &str, resources: &[&str]) -> HashMap<String, String> {
    let (verifier, mut params) = code_params(client);
    params.retain(|(k, _)| k != "scope");
    params.push(("scope".into(), "openid offline_access".into()));
    params.push(("prompt".into(), "consent".into()));
    for r in resources {
        params.push(("resource".into(), (*r).to_owned()));
    }
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut r = h.authorize(&pairs).await;
    if location_opt(&r).is_some_and(|l| l.contains("/test-login")) {
        r = h.login(r, "alice").await;
    }
    if r.status() == 200 {
        r = h.consent(r, true).await;
    }
    let mut q = redirect_params(&r);
    q.insert("code_verifier".into(), verifier);
    q
}

async fn token(h: &Harness, client: &str, form: &[(&str, &str)]) -> reqwest::Response {
    h.http
        .post(h.url("/token"))
        .basic_auth(client, Some(SECRET))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn redeem(
    h: &Harness,
    client: &str,
    q: &HashMap<String, String>,
    resources: &[&str],
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", q["code"].as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", q["code_verifier"].as_str()),
    ];
    form.extend(resources.iter().map(|r| ("resource", *r)));
    token(h, client, &form).await
}

async fn refresh(
    h: &Harness,
    client: &str,
    refresh_token: &str,
    resources: &[&str],
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    form.extend(resources.iter().map(|r| ("resource", *r)));
    token(h, client, &form).await
}

/// The `aud` of a JWT access token.
fn aud(access_token: &str) -> Value {
    let payload = sesame_core::UnverifiedJws::parse(access_token)
        .unwrap()
        .insecure_payload()
        .unwrap();
    serde_json::from_slice::<Value>(&payload).unwrap()["aud"].clone()
}

async fn introspected_aud(h: &Harness, client: &str, access_token: &str) -> Value {
    let r = h
        .http
        .post(h.url("/introspect"))
        .basic_auth(client, Some(SECRET))
        .form(&[("token", access_token)])
        .send()
        .await
        .unwrap();
    json(r).await["aud"].clone()
}

async fn setup() -> Harness {
    let h = start().await;
    h.client("app", |c| {
        c.jwt_access_tokens = true;
        c.allowed_resources = vec![API1.into(), API2.into()];
    })
    .await;
    h
}

#[tokio::test]
async fn resources_asked_at_authorize_become_the_audience_and_can_be_narrowed() {
    let h = setup().await;
    // Through the login and the consent page, both resources are remembered.
    let q = authorize_for(&h, "app", &[API1, API2]).await;
    let t = json(redeem(&h, "app", &q, &[]).await).await;
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(aud(access), json!([API1, API2]));
    assert_eq!(
        introspected_aud(&h, "app", access).await,
        json!([API1, API2])
    );
    assert!(t["id_token"].is_string(), "the ID token is unaffected");

    // A refresh may narrow to one resource; the next refresh token keeps both.
    let r = refresh(&h, "app", t["refresh_token"].as_str().unwrap(), &[API2]).await;
    assert_eq!(r.status(), 200);
    let t = json(r).await;
    assert_eq!(aud(t["access_token"].as_str().unwrap()), json!([API2]));
    let t = json(refresh(&h, "app", t["refresh_token"].as_str().unwrap(), &[]).await).await;
    assert_eq!(
        aud(t["access_token"].as_str().unwrap()),
        json!([API1, API2])
    );

    // The code exchange may narrow too.
    let q = authorize_for(&h, "app", &[API1, API2]).await;
    let t = json(redeem(&h, "app", &q, &[API1]).await).await;
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(aud(access), json!([API1]));
    assert_eq!(introspected_aud(&h, "app", access).await, json!([API1]));
    // … while the refresh token still holds both.
    let t = json(refresh(&h, "app", t["refresh_token"].as_str().unwrap(), &[API2]).await).await;
    assert_eq!(aud(t["access_token"].as_str().unwrap()), json!([API2]));

    // Without resources, the audience is the client, as before.
    let q = authorize_for(&h, "app", &[]).await;
    let t = json(redeem(&h, "app", &q, &[]).await).await;
    assert_eq!(aud(t["access_token"].as_str().unwrap()), json!("app"));
}

#[tokio::test]
async fn the_authorization_endpoint_refuses_unregistered_or_malformed_resources() {
    let h = setup().await;
    for bad in [
        "https://evil.example/",
        "api.example/orders",
        "/orders",
        "https://api.example/orders#frag",
    ] {
        let (_, mut params) = code_params("app");
        params.push(("resource".into(), API1.into()));
        params.push(("resource".into(), bad.into()));
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = h.authorize(&pairs).await;
        // An error back to the client (its redirect URI is fine), before any login.
        let q = redirect_params(&r);
        assert_eq!(q["error"], "invalid_target", "{bad}");
        assert_eq!(q["state"], "st-123");
        assert_eq!(q["iss"], h.base);
        assert!(!q.contains_key("code"));
    }
}

#[tokio::test]
async fn token_requests_may_only_narrow_the_granted_resources() {
    let h = setup().await;
    // A resource the authorization did not include, though registered.
    let q = authorize_for(&h, "app", &[API1]).await;
    let r = redeem(&h, "app", &q, &[API2]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(json(r).await["error"], "invalid_target");
    // An authorization without resources cannot gain one at the token endpoint.
    let q = authorize_for(&h, "app", &[]).await;
    let r = redeem(&h, "app", &q, &[API1]).await;
    assert_eq!(json(r).await["error"], "invalid_target");

    let q = authorize_for(&h, "app", &[API1]).await;
    let t = json(redeem(&h, "app", &q, &[]).await).await;
    let rt = t["refresh_token"].as_str().unwrap();
    for bad in [API2, "not a uri", "https://api.example/orders#x"] {
        let r = refresh(&h, "app", rt, &[bad]).await;
        assert_eq!(r.status(), 400);
        assert_eq!(json(r).await["error"], "invalid_target", "{bad}");
    }
    // Refused before the refresh token was spent: it still works.
    let r = refresh(&h, "app", rt, &[API1]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        aud(json(r).await["access_token"].as_str().unwrap()),
        json!([API1])
    );
}

/// S26: a bad `resource` at the code exchange is refused before the code is
/// consumed, so the client can retry with the code (no replay revocation).
#[tokio::test]
async fn a_bad_resource_at_the_code_exchange_does_not_burn_the_code() {
    let h = setup().await;
    let q = authorize_for(&h, "app", &[API1]).await;
    for bad in [API2, "not a uri"] {
        let r = redeem(&h, "app", &q, &[bad]).await;
        assert_eq!(r.status(), 400);
        assert_eq!(json(r).await["error"], "invalid_target", "{bad}");
    }
    let r = redeem(&h, "app", &q, &[API1]).await;
    assert_eq!(r.status(), 200, "the code still works");
    let t = json(r).await;
    assert_eq!(aud(t["access_token"].as_str().unwrap()), json!([API1]));
    // And it is single use as ever.
    let r = redeem(&h, "app", &q, &[]).await;
    assert_eq!(json(r).await["error"], "invalid_grant");
}
