//! Pushed authorization requests (RFC 9126): pushed with client
//! authentication, taken once, bound to the client, short-lived; required
//! per client or for every client.

use std::collections::HashMap;

use serde_json::Value;

use crate::support::*;

async fn push(h: &Harness, client: &str, form: &[(&str, &str)]) -> reqwest::Response {
    h.http
        .post(h.url("/par"))
        .basic_auth(client, Some(SECRET))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Pushes `code_params(client)` (with `extra` replacing); the request_uri and the verifier.
async fn pushed(h: &Harness, client: &str, extra: &[(&str, &str)]) -> (String, String) {
    let (verifier, mut params) = code_params(client);
    for (k, v) in extra {
        params.retain(|(name, _)| name != k);
        params.push(((*k).to_owned(), (*v).to_owned()));
    }
    let form: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = push(h, client, &form).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v = json(r).await;
    assert_eq!(v["expires_in"], 60);
    let uri = v["request_uri"].as_str().unwrap().to_owned();
    assert!(
        uri.starts_with("urn:ietf:params:oauth:request_uri:"),
        "{uri}"
    );
    (uri, verifier)
}

/// The authorization request naming `uri`, through login and consent.
async fn through(
    h: &Harness,
    client: &str,
    uri: &str,
    extra: &[(&str, &str)],
) -> HashMap<String, String> {
    let mut q = vec![("client_id", client), ("request_uri", uri)];
    q.extend_from_slice(extra);
    let mut r = h.authorize(&q).await;
    if location_opt(&r).is_some_and(|l| l.contains("/test-login")) {
        r = h.login(r, "pia").await;
    }
    if r.status() == 200 {
        r = h.consent(r, true).await;
    }
    redirect_params(&r)
}

#[tokio::test]
async fn a_pushed_request_signs_in_once_and_only_its_parameters_count() {
    let h = start().await;
    h.client("app", |_| {}).await;
    let d = json(
        h.http
            .get(h.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        d["pushed_authorization_request_endpoint"],
        format!("{}/par", h.base)
    );
    assert_eq!(d["require_pushed_authorization_requests"], false);

    let (uri, verifier) = pushed(&h, "app", &[]).await;
    // The query's own parameters are ignored (RFC 9126 §4).
    let mut q = through(&h, "app", &uri, &[("state", "from-the-query")]).await;
    assert_eq!(q["state"], "st-123", "{q:?}");
    q.insert("code_verifier".into(), verifier);
    assert_eq!(h.redeem("app", &q).await.status(), 200);
    // Taken once: the same request_uri again is refused (a page: the
    // query has no redirect_uri to send the error to).
    let r = h
        .authorize(&[("client_id", "app"), ("request_uri", &uri)])
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("invalid_request_uri"));
}

#[tokio::test]
async fn pushed_requests_are_bound_to_their_client_and_expire() {
    let h = start().await;
    h.client("app", |_| {}).await;
    h.client("other", |_| {}).await;
    let (uri, _) = pushed(&h, "app", &[]).await;
    let r = h
        .authorize(&[
            ("client_id", "other"),
            ("request_uri", &uri),
            ("redirect_uri", REDIRECT),
            ("state", "s"),
        ])
        .await;
    let q = redirect_params(&r);
    assert_eq!(q["error"], "invalid_request_uri", "{q:?}");
    // Another client naming it did not spend it: the client that pushed it
    // still signs in with it.
    let q = through(&h, "app", &uri, &[]).await;
    assert!(q.contains_key("code"), "spent by another client: {q:?}");
    let (uri, _) = pushed(&h, "app", &[]).await;
    h.clock.advance(61);
    let r = h
        .authorize(&[
            ("client_id", "app"),
            ("request_uri", &uri),
            ("redirect_uri", REDIRECT),
            ("state", "s"),
        ])
        .await;
    assert_eq!(redirect_params(&r)["error"], "invalid_request_uri");
}

#[tokio::test]
async fn the_push_is_authenticated_and_checked() {
    let h = start().await;
    h.client("app", |_| {}).await;
    let (_, params) = code_params("app");
    let form: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // No or wrong credentials.
    let r = h.http.post(h.url("/par")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = h
        .http
        .post(h.url("/par"))
        .basic_auth("app", Some("wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(json(r).await["error"], "invalid_client");
    let with = |name: &'static str, value: &'static str| {
        let mut f = form.clone();
        f.retain(|(k, _)| *k != name);
        f.push((name, value));
        f
    };
    for (f, code) in [
        (
            with("request_uri", "urn:ietf:params:oauth:request_uri:x"),
            "invalid_request",
        ),
        (
            with("redirect_uri", "https://evil.example/cb"),
            "invalid_request",
        ),
        (with("response_type", "token"), "unsupported_response_type"),
        (with("response_type", "id_token"), "unauthorized_client"),
        (with("client_id", "other"), "invalid_client"),
    ] {
        let r = push(&h, "app", &f).await;
        assert_eq!(r.status().as_u16() / 100, 4, "{f:?}");
        let v: Value = json(r).await;
        assert_eq!(v["error"], code, "{f:?}: {v}");
    }
}

#[tokio::test]
async fn par_can_be_required_per_client_and_for_every_client() {
    let h = start().await;
    h.client("strict", |c| c.require_par = true).await;
    let (_, params) = code_params("strict");
    let direct: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let q = redirect_params(&h.authorize(&direct).await);
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].contains("pushed"), "{q:?}");
    // Pushed, through the login and the consent page: fine.
    let (uri, verifier) = pushed(&h, "strict", &[]).await;
    let mut q = through(&h, "strict", &uri, &[]).await;
    assert!(q.contains_key("code"), "{q:?}");
    q.insert("code_verifier".into(), verifier);
    assert_eq!(h.redeem("strict", &q).await.status(), 200);

    let all = start_with(|b| {
        let mut s = sesame_op::Settings::default();
        s.require_par = true;
        b.with_settings(s)
    })
    .await;
    all.client("app", |_| {}).await;
    let d = json(
        all.http
            .get(all.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(d["require_pushed_authorization_requests"], true);
    let (_, params) = code_params("app");
    let direct: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        redirect_params(&all.authorize(&direct).await)["error"],
        "invalid_request"
    );
}

#[tokio::test]
async fn a_pushed_request_is_taken_when_the_user_comes_back_from_the_login_not_at_the_first_visit()
{
    let h = start().await;
    h.client("app", |_| {}).await;
    let (uri, verifier) = pushed(&h, "app", &[]).await;
    let q = [("client_id", "app"), ("request_uri", uri.as_str())];
    // The first visit sends the browser to the login; the user does nothing.
    let first = h.authorize(&q).await;
    assert!(
        location(&first).contains("/test-login"),
        "{}",
        location(&first)
    );
    // A reload of the same URL (RFC 9126 §4) still finds the request.
    let again = h.authorize(&q).await;
    assert!(
        location(&again).contains("/test-login"),
        "{}",
        location(&again)
    );
    let mut r = h.login(again, "pia").await;
    if r.status() == 200 {
        r = h.consent(r, true).await;
    }
    let mut got = redirect_params(&r);
    assert_eq!(got["state"], "st-123", "{got:?}");
    got.insert("code_verifier".into(), verifier);
    assert_eq!(h.redeem("app", &got).await.status(), 200);
    // Back from the login, the request is used up: neither the first
    // login's way back nor the client's request_uri works again.
    let r = h.authorize(&q).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("invalid_request_uri"));
    let r = h.login(first, "pia").await;
    assert_ne!(
        r.status(),
        303,
        "the first login's way back must not issue a code"
    );
    if let Some(to) = location_opt(&r) {
        assert!(!to.contains("code="), "{to}");
    }
}
