//! The device authorization grant (RFC 8628): the device authorization
//! endpoint, the verification page (code form with CSRF, login, consent),
//! and every answer of the polling state machine.

use serde_json::Value;
use sesame_op::{AuthMethod, GrantType};

use crate::support::*;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn device_client(h: &Harness, id: &str) {
    h.client(id, |c| {
        c.grant_types = vec![GrantType::DeviceCode, GrantType::RefreshToken];
        c.client_name = Some("Living-room TV".into());
    })
    .await;
}

/// POST /device_authorization for a confidential client.
async fn start(h: &Harness, client: &str, scope: &str) -> reqwest::Response {
    h.http
        .post(h.url("/device_authorization"))
        .basic_auth(client, Some(SECRET))
        .form(&[("scope", scope)])
        .send()
        .await
        .unwrap()
}

async fn started(h: &Harness, client: &str, scope: &str) -> Value {
    let r = start(h, client, scope).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    json(r).await
}

async fn poll(h: &Harness, client: &str, device_code: &str) -> reqwest::Response {
    h.http
        .post(h.url("/token"))
        .basic_auth(client, Some(SECRET))
        .form(&[("grant_type", DEVICE_GRANT), ("device_code", device_code)])
        .send()
        .await
        .unwrap()
}

/// Polls and expects the error `code`; returns the body.
async fn poll_error(h: &Harness, client: &str, device_code: &str, code: &str) -> Value {
    let r = poll(h, client, device_code).await;
    assert_eq!(r.status(), 400);
    let v = json(r).await;
    assert_eq!(v["error"], code, "{v}");
    v
}

/// The code form at `url`, submitted with `typed` as the user code.
async fn submit_code(h: &Harness, url: &str, typed: Option<&str>) -> reqwest::Response {
    let form = h.browser.get(url).send().await.unwrap();
    assert_eq!(form.status(), 200);
    let html = form.text().await.unwrap();
    let csrf = hidden(&html, "csrf_token");
    let prefilled = hidden(&html, "user_code");
    let code = typed.map_or(prefilled, str::to_owned);
    h.browser
        .post(h.url("/device"))
        .form(&[("user_code", code.as_str()), ("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap()
}

/// Answers the device consent page in `response`.
async fn answer(h: &Harness, response: reqwest::Response, allow: bool) -> reqwest::Response {
    let html = response.text().await.unwrap();
    let button = if allow { "allow" } else { "deny" };
    h.browser
        .post(h.url("/device/consent"))
        .form(&[
            ("interaction", hidden(&html, "interaction").as_str()),
            ("csrf_token", hidden(&html, "csrf_token").as_str()),
            (button, "1"),
        ])
        .send()
        .await
        .unwrap()
}

/// The user types the code, signs in as `user` and answers.
async fn user_answers(h: &Harness, started: &Value, user: &str, allow: bool) -> String {
    let url = started["verification_uri_complete"].as_str().unwrap();
    let r = submit_code(h, url, None).await;
    assert_eq!(r.status(), 303);
    let consent = h.login(r, user).await;
    assert_eq!(consent.status(), 200);
    let html = consent.text().await.unwrap();
    let user_code = started["user_code"].as_str().unwrap();
    assert!(
        html.contains(user_code),
        "the consent page repeats the code"
    );
    assert!(html.contains("Living-room TV"), "{html}");
    assert!(html.contains("Check that your device shows the code"));
    let again = h
        .browser
        .post(h.url("/device/consent"))
        .form(&[
            ("interaction", hidden(&html, "interaction").as_str()),
            ("csrf_token", "wrong"),
            ("allow", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400, "a wrong consent CSRF token is refused");
    // That attempt spent the interaction: sign in again to get a fresh form.
    let r = submit_code(h, url, None).await;
    assert_eq!(r.status(), 200, "signed in now: straight to consent");
    let done = answer(h, r, allow).await;
    assert_eq!(done.status(), 200);
    done.text().await.unwrap()
}

#[tokio::test]
async fn device_flow_polls_then_issues_tokens_once() {
    let h = start_with(|b| b).await;
    device_client(&h, "tv").await;
    let s = started(&h, "tv", "openid profile offline_access").await;
    let device_code = s["device_code"].as_str().unwrap();
    assert!(device_code.len() >= 43, "256-bit device code");
    let user_code = s["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9);
    assert_eq!(s["verification_uri"], h.url("/device"));
    assert_eq!(
        s["verification_uri_complete"],
        format!("{}?user_code={user_code}", h.url("/device"))
    );
    assert_eq!(s["expires_in"], 600);
    assert_eq!(s["interval"], 5);

    poll_error(&h, "tv", device_code, "authorization_pending").await;
    // Again at once: faster than the interval.
    let v = poll_error(&h, "tv", device_code, "slow_down").await;
    assert!(
        v["error_description"].as_str().unwrap().contains("10"),
        "{v}"
    );
    h.clock.advance(6);
    // 6 s < the new interval of 10 s: slow_down again, interval 15.
    poll_error(&h, "tv", device_code, "slow_down").await;
    h.clock.advance(15);
    poll_error(&h, "tv", device_code, "authorization_pending").await;

    let done = user_answers(&h, &s, "dana", true).await;
    assert!(done.contains("You may return to your device"), "{done}");

    h.clock.advance(15);
    let r = poll(&h, "tv", device_code).await;
    assert_eq!(r.status(), 200);
    let tokens = json(r).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(
        tokens["refresh_token"].is_string(),
        "offline_access granted"
    );
    let id = h
        .validate("tv", tokens["id_token"].as_str().unwrap(), None)
        .await;
    assert_eq!(id.claims.sub.as_str(), "dana");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(h.userinfo(access).await.status(), 200);

    // The device code is single use, and a replay revokes what it issued.
    h.clock.advance(15);
    poll_error(&h, "tv", device_code, "invalid_grant").await;
    assert_eq!(h.userinfo(access).await.status(), 401);
}

#[tokio::test]
async fn denied_expired_unknown_and_foreign_device_codes() {
    let h = start_with(|b| b).await;
    device_client(&h, "tv").await;
    device_client(&h, "radio").await;

    let s = started(&h, "tv", "openid").await;
    let denied = user_answers(&h, &s, "erin", false).await;
    assert!(denied.contains("Access denied"), "{denied}");
    let code = s["device_code"].as_str().unwrap();
    poll_error(&h, "tv", code, "access_denied").await;

    let s = started(&h, "tv", "openid").await;
    let code = s["device_code"].as_str().unwrap();
    poll_error(&h, "radio", code, "invalid_grant").await;
    poll_error(&h, "tv", "not-a-device-code", "invalid_grant").await;
    h.clock.advance(601);
    poll_error(&h, "tv", code, "expired_token").await;
    // The expired code is gone from the verification page too.
    let url = s["verification_uri_complete"].as_str().unwrap();
    let r = submit_code(&h, url, None).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("unknown or has expired"));
}

#[tokio::test]
async fn public_clients_and_clients_without_the_grant() {
    let h = start_with(|b| b).await;
    h.client("cli", |c| {
        c.grant_types = vec![GrantType::DeviceCode];
        c.token_endpoint_auth_method = AuthMethod::None;
    })
    .await;
    let r = h
        .http
        .post(h.url("/device_authorization"))
        .form(&[("client_id", "cli"), ("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let s = json(r).await;
    let r = h
        .http
        .post(h.url("/token"))
        .form(&[
            ("grant_type", DEVICE_GRANT),
            ("device_code", s["device_code"].as_str().unwrap()),
            ("client_id", "cli"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["error"], "authorization_pending");

    h.client("web", |_| {}).await;
    let r = start(&h, "web", "openid").await;
    assert_eq!(r.status(), 400);
    assert_eq!(json(r).await["error"], "unauthorized_client");
    let r = h
        .http
        .post(h.url("/device_authorization"))
        .basic_auth("web", Some("wrong"))
        .form(&[("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "client authentication as at the token endpoint"
    );
}

#[tokio::test]
async fn verification_page_checks_csrf_and_reads_codes_loosely() {
    let h = start_with(|b| b).await;
    device_client(&h, "tv").await;
    let s = started(&h, "tv", "openid").await;
    let user_code = s["user_code"].as_str().unwrap();

    // No CSRF cookie (a cross-site post): refused before the code is looked at.
    let r = h
        .http
        .post(h.url("/device"))
        .form(&[("user_code", user_code), ("csrf_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let r = submit_code(&h, &h.url("/device"), Some("BCDF-GHJK-X")).await;
    assert_eq!(r.status(), 400, "not a code");
    // Lower case, no dash: the same code.
    let loose = user_code.replace('-', "").to_lowercase();
    let r = submit_code(&h, &h.url("/device"), Some(&loose)).await;
    assert_eq!(r.status(), 303, "to the login");
    assert!(location(&r).contains("/test-login?"));
}

#[tokio::test]
async fn discovery_advertises_the_device_endpoint_and_grant() {
    let h = crate::support::start().await;
    let d = json(
        h.http
            .get(h.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        d["device_authorization_endpoint"],
        h.url("/device_authorization")
    );
    let grants: Vec<String> = serde_json::from_value(d["grant_types_supported"].clone()).unwrap();
    assert!(grants.iter().any(|g| g == DEVICE_GRANT), "{grants:?}");
}
