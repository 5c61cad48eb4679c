//! The device-flow client against Sesame's own provider on 127.0.0.1:0:
//! start, pending, slow_down, the user's answer through the real
//! verification page, the tokens and their checks.

use sesame_core::{Issuer, JwsAlgorithm};
use sesame_op::GrantType;
use sesame_rp::{ClientAuth, DeviceAuthorization, DeviceError, DevicePoll, OidcClient};

use crate::support::*;

async fn setup(edit: impl FnOnce(&mut sesame_op::Client)) -> Op {
    let op = start_op().await;
    op.register("cli", "http://127.0.0.1:9", |c| {
        c.token_endpoint_auth_method = sesame_op::AuthMethod::None;
        c.grant_types = vec![GrantType::DeviceCode, GrantType::RefreshToken];
        c.skip_consent = false;
        edit(c);
    })
    .await;
    op
}

async fn cli(op: &Op, algs: &[JwsAlgorithm]) -> OidcClient {
    OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "cli")
        .with_auth_method(ClientAuth::None)
        .with_algorithms(algs.iter().copied())
        .for_device_flow()
        .build()
        .await
        .unwrap()
}

/// The user opens `verification_uri_complete`, signs in as `user` and
/// allows or denies; the final page's HTML.
async fn user_answers(url: &str, user: &str, allow: bool) -> String {
    let b = browser();
    let mut next: (String, Option<Vec<(String, String)>>) = (url.to_owned(), None);
    for _ in 0..10 {
        let (mut at, form) = next.clone();
        let r = match form {
            Some(fields) => b.post(&at).form(&fields).send().await.unwrap(),
            None => {
                if at.contains("/op-login?") {
                    at = format!("{at}&user={user}");
                }
                b.get(&at).send().await.unwrap()
            }
        };
        if let Some(l) = r.headers().get("location") {
            let to = url::Url::parse(&at)
                .unwrap()
                .join(l.to_str().unwrap())
                .unwrap();
            next = (to.to_string(), None);
            continue;
        }
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        let Some((action, mut fields)) = post_form(&html) else {
            return html;
        };
        if !allow && html.contains("name=\"deny\"") {
            fields.retain(|(k, _)| k != "allow");
            fields.push(("deny".into(), "1".into()));
        }
        let to = url::Url::parse(&at).unwrap().join(&action).unwrap();
        next = (to.to_string(), Some(fields));
    }
    panic!("the verification page did not finish");
}

#[tokio::test]
async fn device_flow_signs_a_cli_in_with_checked_tokens() {
    let op = setup(|_| {}).await;
    let client = cli(&op, &[JwsAlgorithm::RS256]).await;
    let mut device = DeviceAuthorization::start(&client, "profile offline_access")
        .await
        .unwrap();
    assert_eq!(device.verification_uri(), format!("{}/device", op.base));
    assert_eq!(device.user_code().len(), 9);
    assert_eq!(device.interval().as_secs(), 5);
    assert!(
        format!("{device:?}").contains("device_code: \"[redacted]\""),
        "the device code never shows in Debug"
    );
    let page = user_answers(device.verification_uri_complete().unwrap(), "nia", true).await;
    assert!(page.contains("You may return to your device"), "{page}");
    // poll() waits the interval first, then gets the tokens.
    let tokens = device.poll().await.unwrap();
    let id = tokens.id_token.as_ref().expect("an ID token for openid");
    assert_eq!(id.claims.sub.as_str(), "nia");
    assert!(tokens.refresh_token.is_some());
    assert!(!format!("{tokens:?}").contains(&tokens.access_token));
}

#[tokio::test]
async fn pending_then_slow_down_grows_the_interval() {
    let op = setup(|_| {}).await;
    let client = cli(&op, &[JwsAlgorithm::RS256]).await;
    let mut device = DeviceAuthorization::start(&client, "openid").await.unwrap();
    assert!(matches!(
        device.poll_once().await.unwrap(),
        DevicePoll::Pending
    ));
    // At once again: faster than 5 s.
    assert!(matches!(
        device.poll_once().await.unwrap(),
        DevicePoll::SlowDown
    ));
    assert_eq!(
        device.interval().as_secs(),
        10,
        "interval += 5 on slow_down"
    );
}

#[tokio::test]
async fn a_denial_is_access_denied() {
    let op = setup(|_| {}).await;
    let client = cli(&op, &[JwsAlgorithm::RS256]).await;
    let mut device = DeviceAuthorization::start(&client, "openid").await.unwrap();
    let page = user_answers(device.verification_uri_complete().unwrap(), "omar", false).await;
    assert!(page.contains("Access denied"), "{page}");
    assert!(matches!(device.poll_once().await, Err(DeviceError::Denied)));
}

#[tokio::test]
async fn an_id_token_outside_the_algorithm_allowlist_is_refused() {
    let op = setup(|_| {}).await;
    // The provider signs RS256; this client accepts ES256 only.
    let client = cli(&op, &[JwsAlgorithm::ES256]).await;
    let mut device = DeviceAuthorization::start(&client, "openid").await.unwrap();
    user_answers(device.verification_uri_complete().unwrap(), "pat", true).await;
    match device.poll_once().await {
        Err(DeviceError::Tokens(e)) => assert!(!e.to_string().is_empty()),
        other => panic!("expected the ID token to be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn clients_without_the_grant_are_told_so() {
    let op = setup(|c| c.grant_types = vec![GrantType::AuthorizationCode]).await;
    let client = cli(&op, &[JwsAlgorithm::RS256]).await;
    match DeviceAuthorization::start(&client, "openid").await {
        Err(DeviceError::Provider { error, .. }) => assert_eq!(error, "unauthorized_client"),
        other => panic!("expected unauthorized_client, got {other:?}"),
    }
}
