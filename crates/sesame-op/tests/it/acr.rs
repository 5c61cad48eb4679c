//! `acr_values` and the `acr` claim request (OIDC Core §3.1.2.1, §5.5.1.1).

use std::collections::HashMap;

use sesame_core::ErrorCode;

use crate::support::*;

const PWD: &str = "urn:x:pwd";
const MFA: &str = "urn:x:mfa";

async fn provider() -> Harness {
    let h = start_with(|b| {
        let mut s = sesame_op::Settings::default();
        s.acr_values_supported = vec![PWD.into(), MFA.into()];
        b.with_settings(s)
    })
    .await;
    h.client("app", |c| c.skip_consent = true).await;
    h
}

/// Starts a code request with `extra`; returns the verifier and the answer.
async fn ask(h: &Harness, extra: &[(&str, &str)]) -> (String, reqwest::Response) {
    let (verifier, mut params) = code_params("app");
    for (k, v) in extra {
        params.push(((*k).to_owned(), (*v).to_owned()));
    }
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    (verifier, h.authorize(&pairs).await)
}

/// The `acr` of the ID token the redirect's code redeems to.
async fn acr_of(h: &Harness, verifier: String, r: &reqwest::Response) -> Option<String> {
    let mut q: HashMap<String, String> = redirect_params(r);
    assert!(q.contains_key("code"), "{q:?}");
    q.insert("code_verifier".into(), verifier);
    let tokens = json(h.redeem("app", &q).await).await;
    let id = h
        .validate(
            "app",
            tokens["id_token"].as_str().unwrap(),
            Some("nonce-123"),
        )
        .await;
    id.claims.acr
}

#[tokio::test]
async fn acr_values_met_by_the_login_are_named_in_the_id_token() {
    let h = provider().await;
    let d = json(
        h.http
            .get(h.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(d["acr_values_supported"], serde_json::json!([PWD, MFA]));

    let (v, r) = ask(&h, &[("acr_values", "urn:x:pwd urn:x:mfa")]).await;
    let r = h.login_with_acr(r, "alice", Some(MFA)).await;
    assert_eq!(acr_of(&h, v, &r).await.as_deref(), Some(MFA));
    // The same session, asked for the weaker value only: met, and named.
    let (v, r) = ask(&h, &[("acr_values", PWD)]).await;
    assert_eq!(acr_of(&h, v, &r).await.as_deref(), Some(PWD));
    // Voluntary and not met: the authentication that took place.
    let other = provider().await;
    let (v, r) = ask(&other, &[("acr_values", MFA)]).await;
    let r = other.login_with_acr(r, "bob", Some(PWD)).await;
    assert_eq!(acr_of(&other, v, &r).await.as_deref(), Some(PWD));
}

#[tokio::test]
async fn an_essential_acr_steps_up_through_the_login_or_is_access_denied() {
    let h = provider().await;
    let essential_mfa = r#"{"id_token":{"acr":{"essential":true,"values":["urn:x:mfa"]}}}"#;
    // Signed in with a password.
    let (v, r) = ask(&h, &[]).await;
    let r = h.login_with_acr(r, "alice", Some(PWD)).await;
    assert_eq!(acr_of(&h, v, &r).await.as_deref(), Some(PWD));

    // Essential MFA: back to the login although a session exists, and met there.
    let (v, r) = ask(&h, &[("claims", essential_mfa)]).await;
    assert!(
        location(&r).contains("/test-login"),
        "step-up: {}",
        location(&r)
    );
    let r = h.login_with_acr(r, "alice", Some(MFA)).await;
    assert_eq!(acr_of(&h, v, &r).await.as_deref(), Some(MFA));

    // A login that still does not meet it: access_denied, no code.
    let h = provider().await;
    let (_, r) = ask(&h, &[("claims", essential_mfa)]).await;
    let r = h.login_with_acr(r, "alice", Some(PWD)).await;
    let q = redirect_params(&r);
    assert_eq!(q["error"], ErrorCode::AccessDenied.as_str(), "{q:?}");
    assert!(!q.contains_key("code"));
    assert_eq!(q["state"], "st-123");

    // A value the provider never produces: refused without a pointless login.
    let unknown = r#"{"id_token":{"acr":{"essential":true,"value":"urn:other"}}}"#;
    let h = provider().await;
    let (v, r) = ask(&h, &[]).await;
    let r = h.login_with_acr(r, "carol", Some(MFA)).await;
    assert_eq!(acr_of(&h, v, &r).await.as_deref(), Some(MFA));
    let (_, r) = ask(&h, &[("claims", unknown)]).await;
    let q = redirect_params(&r);
    assert_eq!(q["error"], ErrorCode::AccessDenied.as_str(), "{q:?}");
}
