//! Logout at a hostile provider (issue 14): back-channel logout tokens pinned
//! to the ID tokens' algorithm (`…-wrong-alg`).

use super::*;

/// A back-channel logout token for `sub` "victim", signed with key `i` of the pool.
fn logout_token(rig: &Rig, i: usize) -> String {
    let f = &rig.fake;
    let now = rig.clock.now();
    let key = &f.pool[i];
    let header = json!({"alg": key.alg().as_str(), "kid": key.kid(), "typ": "logout+jwt"});
    let claims = json!({
        "iss": f.base, "aud": "rp", "iat": now, "exp": now + 120,
        "jti": sesame_core::random::token().unwrap(), "sub": "victim",
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
    });
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    format!("{input}.{}", b64(&key.sign(input.as_bytes()).unwrap()))
}

/// Delivers a logout token to the RP's back-channel endpoint; the status.
async fn deliver(rig: &Rig, token: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/backchannel-logout", rig.rp))
        .form(&[("logout_token", token)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_logout_token_under_another_algorithm_than_the_id_tokens_is_refused() {
    // The client allows RS256 and ES256; the provider signs ID tokens RS256.
    let rig = rig(|_| {}, |b| b).await;
    assert_eq!(rig.login().await.status(), 200);
    // A logout token signed ES256 with the provider's published ES256 key.
    assert_eq!(deliver(&rig, &logout_token(&rig, 1)).await, 400);
    assert!(rig.signed_in().await, "the session stays");
    // The same logout signed RS256, as the ID tokens are, ends the session.
    assert_eq!(deliver(&rig, &logout_token(&rig, 0)).await, 200);
    assert!(!rig.signed_in().await, "the session ended");
}

/// The allowlist itself (held before issue 14 too: logout and ID tokens share it).
#[tokio::test]
async fn a_logout_token_outside_the_allowlist_is_refused() {
    let rig = rig(|_| {}, |b| b.with_algorithms([JwsAlgorithm::RS256])).await;
    assert_eq!(rig.login().await.status(), 200);
    assert_eq!(deliver(&rig, &logout_token(&rig, 1)).await, 400);
    assert!(rig.signed_in().await, "the session stays");
}

#[tokio::test]
async fn es256_id_tokens_take_es256_logout_tokens() {
    let rig = rig(|f| *f.sign.lock().unwrap() = Sign::Key(1), |b| b).await;
    assert_eq!(rig.login().await.status(), 200);
    assert_eq!(deliver(&rig, &logout_token(&rig, 0)).await, 400, "RS256");
    assert!(rig.signed_in().await);
    assert_eq!(deliver(&rig, &logout_token(&rig, 1)).await, 200, "ES256");
    assert!(!rig.signed_in().await);
}
