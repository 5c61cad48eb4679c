//! Logout at a hostile provider (issue 14): RP-initiated logout sends a
//! `state` and checks it on return (`rp-init-logout-no-state`/`-other-state`);
//! back-channel logout tokens are pinned to the ID tokens' algorithm (`…-wrong-alg`).

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

/// Signs in, logs out through the form; the end-session URL the RP sent the browser to.
async fn log_out(rig: &Rig) -> url::Url {
    assert_eq!(rig.login().await.status(), 200);
    let csrf = rig
        .browser
        .get(format!("{}/csrf", rig.rp))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = rig
        .browser
        .post(format!("{}/logout", rig.rp))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap()
}

fn query(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Follows the end-session URL back to the RP; the post-logout page's status and text.
async fn come_back(rig: &Rig, end_session: &url::Url) -> (u16, String, Vec<String>) {
    let (r, seen) = follow(&rig.browser, end_session.as_str(), "x").await;
    let status = r.status().as_u16();
    (status, r.text().await.unwrap(), seen)
}

#[tokio::test]
async fn rp_initiated_logout_sends_a_state_and_the_right_one_completes() {
    let rig = rig(|_| {}, |b| b).await;
    let to = log_out(&rig).await;
    assert_eq!(to.path(), "/end_session");
    let state = query(&to, "state").expect("the end-session request carries state");
    assert!(state.len() >= 32, "random: {state}");
    assert!(query(&to, "id_token_hint").is_some());
    assert_eq!(
        query(&to, "post_logout_redirect_uri").unwrap(),
        format!("{}/logged-out", rig.rp)
    );
    assert!(!rig.signed_in().await, "the local session ended first");
    let (status, page, seen) = come_back(&rig, &to).await;
    assert_eq!(
        seen.last().unwrap(),
        &format!("{}/logged-out?state={state}", rig.rp)
    );
    assert_eq!((status, page.as_str()), (200, "LoggedOut"));
    // Single use: the same return again is not taken as a logout.
    let again = rig
        .browser
        .get(format!("{}/logged-out?state={state}", rig.rp))
        .send()
        .await
        .unwrap();
    assert_eq!(again.text().await.unwrap(), "Unconfirmed");
    // A new logout gets a new state.
    let next = log_out(&rig).await;
    assert_ne!(query(&next, "state").unwrap(), state);
}

#[tokio::test]
async fn a_return_with_another_state_or_none_is_not_taken_as_the_logout() {
    for (mode, name) in [
        (LogoutState::Other, "other state"),
        (LogoutState::Omit, "no state"),
    ] {
        let rig = rig(|f| *f.logout_state.lock().unwrap() = mode, |b| b).await;
        let to = log_out(&rig).await;
        let (status, page, _) = come_back(&rig, &to).await;
        assert_eq!(status, 200, "{name}: logout does not break");
        assert_eq!(page, "Unconfirmed", "{name}");
        assert!(!rig.signed_in().await, "{name}: still signed out");
        // The rightful return after that one is spent too: no late success claim.
        let state = query(&to, "state").unwrap();
        let late = rig
            .browser
            .get(format!("{}/logged-out?state={state}", rig.rp))
            .send()
            .await
            .unwrap();
        assert_eq!(late.text().await.unwrap(), "Unconfirmed", "{name}");
    }
}

#[tokio::test]
async fn an_ordinary_visit_is_not_a_logout_and_a_stray_state_is_not_ours() {
    let rig = rig(|_| {}, |b| b).await;
    let page = |q: &'static str| {
        let b = rig.browser.clone();
        let url = format!("{}/logged-out{q}", rig.rp);
        async move { b.get(url).send().await.unwrap().text().await.unwrap() }
    };
    assert_eq!(page("").await, "NotALogout");
    assert_eq!(page("?state=guess").await, "Unconfirmed");
    // An expired logout is not confirmed either.
    let to = log_out(&rig).await;
    rig.clock.advance(600);
    let (_, page, _) = come_back(&rig, &to).await;
    assert_eq!(page, "Unconfirmed");
}
