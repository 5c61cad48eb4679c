use std::sync::{Arc, Mutex};

use axum::Form;
use axum::routing::post;
use sesame_core::{ClientId, Clock, IdTokenValidator, Issuer, JwsAlgorithm};

use crate::support::*;

const AFTER: &str = "https://rp.example/logged-out";

async fn logged_in(h: &Harness) -> (String, sesame_core::ValidatedIdToken) {
    let q = h.code("app", "alice", &[]).await;
    let t = json(h.redeem("app", &q).await).await;
    let id_token = t["id_token"].as_str().unwrap().to_owned();
    let v = h.validate("app", &id_token, Some("nonce-123")).await;
    (id_token, v)
}

async fn setup(backchannel: Option<String>) -> Harness {
    let h = start().await;
    h.client("app", |c| {
        c.skip_consent = true;
        c.post_logout_redirect_uris = vec![sesame_core::RedirectUri::new(AFTER).unwrap()];
        c.backchannel_logout_uri = backchannel;
    })
    .await;
    h
}

#[tokio::test]
async fn logout_with_a_valid_hint_redirects_and_notifies_the_back_channel() {
    // The relying party's back-channel endpoint, on a real listener.
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&received);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bc_url = format!("http://{}/backchannel", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/backchannel",
        post(
            move |Form(f): Form<std::collections::HashMap<String, String>>| {
                let sink = Arc::clone(&sink);
                async move {
                    sink.lock().unwrap().push(f["logout_token"].clone());
                    "ok"
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let h = setup(Some(bc_url)).await;
    let (id_token, id) = logged_in(&h).await;
    let r = h
        .browser
        .get(h.url("/end_session"))
        .query(&[
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", AFTER),
            ("state", "bye"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), format!("{AFTER}?state=bye"));
    // The provider session is gone: the next authorization needs a login.
    let (_, params) = code_params("app");
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert!(location(&h.authorize(&pairs).await).contains("/test-login"));

    // The logout token arrives (in the background) and is valid for this client.
    let mut token = None;
    for _ in 0..100 {
        if let Some(t) = received.lock().unwrap().first().cloned() {
            token = Some(t);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let token = token.expect("a logout token was delivered");
    let claims = IdTokenValidator::new(Issuer::new(h.base.clone()).unwrap(), ClientId::new("app"))
        .with_algorithms([JwsAlgorithm::RS256])
        .validate_logout_token(&token, &h.jwks().await, h.clock.now())
        .unwrap();
    assert_eq!(claims.sid, id.claims.sid);
    assert_eq!(claims.sub.unwrap().as_str(), "alice");
}

#[tokio::test]
async fn a_hint_with_a_bad_signature_is_refused() {
    let h = setup(None).await;
    let (id_token, _) = logged_in(&h).await;
    let mut parts: Vec<String> = id_token.split('.').map(str::to_owned).collect();
    let mut sig = parts[2].clone().into_bytes();
    sig[5] = if sig[5] == b'A' { b'B' } else { b'A' };
    parts[2] = String::from_utf8(sig).unwrap();
    let forged = parts.join(".");
    let r = h
        .browser
        .get(h.url("/end_session"))
        .query(&[
            ("id_token_hint", forged.as_str()),
            ("post_logout_redirect_uri", AFTER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(location_opt(&r).is_none());
    // Still logged in.
    let q = h.code("app", "alice", &[]).await;
    assert!(q.contains_key("code"));
}

#[tokio::test]
async fn an_unregistered_post_logout_redirect_uri_is_refused() {
    let h = setup(None).await;
    let (id_token, _) = logged_in(&h).await;
    for uri in [
        "https://evil.example/",
        "https://rp.example/logged-out/",
        "https://rp.example/logged-out?x",
    ] {
        let r = h
            .browser
            .get(h.url("/end_session"))
            .query(&[
                ("id_token_hint", id_token.as_str()),
                ("post_logout_redirect_uri", uri),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{uri}");
        assert!(location_opt(&r).is_none());
    }
    // Without a hint or client_id, no redirect is possible at all.
    let r = h
        .browser
        .get(h.url("/end_session"))
        .query(&[("post_logout_redirect_uri", AFTER)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn without_a_hint_the_user_confirms_with_a_csrf_protected_form() {
    let h = setup(None).await;
    logged_in(&h).await;
    let r = h
        .browser
        .get(h.url("/end_session"))
        .query(&[("client_id", "app"), ("post_logout_redirect_uri", AFTER)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Sign out"));
    let interaction = hidden(&html, "interaction");
    let csrf = hidden(&html, "csrf_token");
    // A forged form does nothing.
    let r = h
        .browser
        .post(h.url("/end_session"))
        .form(&[
            ("interaction", interaction.as_str()),
            ("csrf_token", "x"),
            ("logout", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        h.code("app", "alice", &[]).await.contains_key("code"),
        "still logged in"
    );

    let r = h
        .browser
        .get(h.url("/end_session"))
        .query(&[("client_id", "app"), ("post_logout_redirect_uri", AFTER)])
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    let interaction = hidden(&html, "interaction");
    let csrf2 = hidden(&html, "csrf_token");
    assert_ne!(csrf, csrf2);
    let r = h
        .browser
        .post(h.url("/end_session"))
        .form(&[
            ("interaction", interaction.as_str()),
            ("csrf_token", csrf2.as_str()),
            ("logout", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), AFTER);
    let (_, params) = code_params("app");
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert!(location(&h.authorize(&pairs).await).contains("/test-login"));
}

/// The hint's `sid` is mapped back to the provider session (S2): a hint
/// from an earlier session of the same user does not sign the current one
/// out without asking.
#[tokio::test]
async fn a_hint_from_an_earlier_session_asks_before_signing_out() {
    let h = setup(None).await;
    let (old_hint, old) = logged_in(&h).await;
    let r = h
        .browser
        .get(h.url("/end_session"))
        .query(&[("id_token_hint", old_hint.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "the hint's own session ends without asking"
    );
    assert!(!r.text().await.unwrap().contains("name=\"interaction\""));

    // A new session of the same user, then the old hint.
    let (new_hint, new) = logged_in(&h).await;
    assert_ne!(old.claims.sid, new.claims.sid);
    let r = h
        .browser
        .get(h.url("/end_session"))
        .query(&[
            ("id_token_hint", old_hint.as_str()),
            ("post_logout_redirect_uri", AFTER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a confirmation page, not a redirect");
    assert!(r.text().await.unwrap().contains("name=\"interaction\""));
    assert!(
        h.code("app", "alice", &[]).await.contains_key("code"),
        "still signed in"
    );
    // The current session's hint still signs out at once.
    let r = h
        .browser
        .get(h.url("/end_session"))
        .query(&[
            ("id_token_hint", new_hint.as_str()),
            ("post_logout_redirect_uri", AFTER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), AFTER);
}
