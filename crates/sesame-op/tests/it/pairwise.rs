//! Pairwise subject identifiers (OIDC Core §8.1): one `sub` per sector,
//! the same everywhere a `sub` leaves the provider for a client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Form;
use axum::routing::post;
use serde_json::Value;
use sesame_core::{ClientId, Clock, IdTokenValidator, Issuer, JwsAlgorithm, RedirectUri};
use sesame_op::{PairwiseSalt, Settings, SubjectType};

use crate::support::*;

const OTHER: &str = "https://other.example/cb";
const AFTER: &str = "https://rp.example/logged-out";

fn salted() -> Settings {
    let mut settings = Settings::default();
    settings.pairwise_salt = Some(PairwiseSalt::new(*b"a salt of at least 16 bytes"));
    settings.allow_private_outbound = true; // logout sinks on 127.0.0.1
    settings
}

async fn start_salted() -> Harness {
    start_with(|b| b.with_settings(salted())).await
}

/// A first-party client with one redirect URI.
async fn client(h: &Harness, id: &str, redirect: &str, subject_type: SubjectType) {
    let redirect = RedirectUri::new(redirect).unwrap();
    h.client(id, |c| {
        c.skip_consent = true;
        c.subject_type = subject_type;
        c.redirect_uris = vec![redirect];
        c.post_logout_redirect_uris = vec![RedirectUri::new(AFTER).unwrap()];
    })
    .await;
}

/// A code flow for `user` through `redirect`, redeemed: the token response.
async fn tokens(h: &Harness, id: &str, redirect: &str, user: &str) -> Value {
    let (verifier, mut params) = code_params(id);
    for (k, v) in &mut params {
        if k == "redirect_uri" {
            *v = redirect.to_owned();
        }
    }
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut r = h.authorize(&pairs).await;
    if location(&r).contains("/test-login") {
        r = h.login(r, user).await;
    }
    let to = url::Url::parse(&location(&r)).unwrap();
    assert!(to.as_str().starts_with(redirect), "{to}");
    let q: HashMap<String, String> = to.query_pairs().into_owned().collect();
    let r = h
        .http
        .post(h.url("/token"))
        .basic_auth(id, Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    json(r).await
}

async fn sub_of(h: &Harness, id: &str, t: &Value) -> String {
    let v = h
        .validate(id, t["id_token"].as_str().unwrap(), Some("nonce-123"))
        .await;
    v.claims.sub.into_string()
}

/// The `sub` of a refreshed ID token (no nonce).
async fn refreshed_sub_of(h: &Harness, id: &str, t: &Value) -> String {
    let v = h.validate(id, t["id_token"].as_str().unwrap(), None).await;
    v.claims.sub.into_string()
}

#[tokio::test]
async fn sectors_get_different_subjects_and_one_sector_the_same() {
    let h = start_salted().await;
    client(&h, "a", REDIRECT, SubjectType::Pairwise).await;
    client(&h, "a-too", REDIRECT, SubjectType::Pairwise).await;
    client(&h, "b", OTHER, SubjectType::Pairwise).await;
    client(&h, "public", OTHER, SubjectType::Public).await;

    let a = sub_of(&h, "a", &tokens(&h, "a", REDIRECT, "alice").await).await;
    let a_too = sub_of(&h, "a-too", &tokens(&h, "a-too", REDIRECT, "alice").await).await;
    let b = sub_of(&h, "b", &tokens(&h, "b", OTHER, "alice").await).await;
    let public = sub_of(&h, "public", &tokens(&h, "public", OTHER, "alice").await).await;
    assert_eq!(a, a_too, "one sector (rp.example), one subject");
    assert_ne!(a, b, "another sector (other.example), another subject");
    assert_eq!(
        public, "alice",
        "public clients see the user's own identifier"
    );
    assert!(a != "alice" && b != "alice");
    assert_eq!(a.len(), 43, "base64url of a SHA-256");

    // Another user of the same sector gets another subject.
    let h2 = start_with(|b| b.with_settings(salted())).await;
    client(&h2, "a", REDIRECT, SubjectType::Pairwise).await;
    let bob = sub_of(&h2, "a", &tokens(&h2, "a", REDIRECT, "bob").await).await;
    assert_ne!(bob, a);
}

#[tokio::test]
async fn userinfo_introspection_jwt_access_tokens_and_refresh_agree_with_the_id_token() {
    let h = start_salted().await;
    h.client("a", |c| {
        c.skip_consent = true;
        c.subject_type = SubjectType::Pairwise;
        c.jwt_access_tokens = true;
    })
    .await;
    h.client("signed", |c| {
        c.skip_consent = true;
        c.subject_type = SubjectType::Pairwise;
        c.userinfo_signed_response_alg = Some(JwsAlgorithm::ES256);
    })
    .await;
    let q = h
        .code(
            "a",
            "alice",
            &[
                ("scope", "openid email offline_access"),
                ("prompt", "consent"),
            ],
        )
        .await;
    let t = json(h.redeem("a", &q).await).await;
    let sub = sub_of(&h, "a", &t).await;
    assert_ne!(sub, "alice");
    let access = t["access_token"].as_str().unwrap();

    let info = json(h.userinfo(access).await).await;
    assert_eq!(info["sub"], sub.as_str(), "userinfo");

    let at: Value = serde_json::from_slice(
        &sesame_core::UnverifiedJws::parse(access)
            .unwrap()
            .insecure_payload()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(at["sub"], sub.as_str(), "JWT access token");

    let r = h
        .http
        .post(h.url("/introspect"))
        .basic_auth("a", Some(SECRET))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["sub"], sub.as_str(), "introspection");

    let r = h
        .http
        .post(h.url("/token"))
        .basic_auth("a", Some(SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    let refreshed = json(r).await;
    assert_eq!(
        refreshed_sub_of(&h, "a", &refreshed).await,
        sub,
        "refreshed ID token"
    );

    // Signed userinfo carries the same pairwise sub (same sector as "a").
    let q = h.code("signed", "alice", &[]).await;
    let t = json(h.redeem("signed", &q).await).await;
    let r = h.userinfo(t["access_token"].as_str().unwrap()).await;
    assert_eq!(r.headers()["content-type"], "application/jwt");
    let jwt = r.text().await.unwrap();
    let claims: Value = serde_json::from_slice(
        &sesame_core::UnverifiedJws::parse(&jwt)
            .unwrap()
            .insecure_payload()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], sub.as_str(), "signed userinfo");
    assert_eq!(sub_of(&h, "signed", &t).await, sub);
}

#[tokio::test]
async fn a_pairwise_id_token_hint_maps_back_to_the_user() {
    let h = start_salted().await;
    client(&h, "a", REDIRECT, SubjectType::Pairwise).await;
    let t = tokens(&h, "a", REDIRECT, "alice").await;
    let hint = t["id_token"].as_str().unwrap();
    // prompt=none with the hint: the logged-in user is the hint's subject.
    let q = h
        .code("a", "alice", &[("prompt", "none"), ("id_token_hint", hint)])
        .await;
    assert!(q.contains_key("code"), "{q:?}");

    // Bob signs in on this browser: Alice's hint names someone else.
    let q = h.code("a", "bob", &[("prompt", "login")]).await;
    assert!(q.contains_key("code"), "{q:?}");
    let q = h
        .code("a", "bob", &[("prompt", "none"), ("id_token_hint", hint)])
        .await;
    assert_eq!(q["error"], "login_required");
}

#[tokio::test]
async fn end_session_and_the_logout_token_use_the_pairwise_subject() {
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&received);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bc_url = format!("http://{}/backchannel", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/backchannel",
        post(move |Form(f): Form<HashMap<String, String>>| {
            let sink = Arc::clone(&sink);
            async move {
                sink.lock().unwrap().push(f["logout_token"].clone());
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let h = start_salted().await;
    h.client("a", |c| {
        c.skip_consent = true;
        c.subject_type = SubjectType::Pairwise;
        c.post_logout_redirect_uris = vec![RedirectUri::new(AFTER).unwrap()];
        c.backchannel_logout_uri = Some(bc_url);
    })
    .await;
    let t = tokens(&h, "a", REDIRECT, "alice").await;
    let id_token = t["id_token"].as_str().unwrap();
    let sub = sub_of(&h, "a", &t).await;
    // The hint is recognised as the logged-in user: no confirmation page.
    let r = h
        .browser
        .get(h.url("/end_session"))
        .query(&[
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", AFTER),
            ("state", "bye"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), format!("{AFTER}?state=bye"));

    let mut token = None;
    for _ in 0..100 {
        if let Some(t) = received.lock().unwrap().first().cloned() {
            token = Some(t);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let token = token.expect("a logout token was delivered");
    let claims = IdTokenValidator::new(Issuer::new(h.base.clone()).unwrap(), ClientId::new("a"))
        .with_algorithms([JwsAlgorithm::RS256])
        .validate_logout_token(&token, &h.jwks().await, h.clock.now())
        .unwrap();
    assert_eq!(claims.sub.unwrap().as_str(), sub);
}

#[tokio::test]
async fn discovery_offers_pairwise_only_with_a_salt() {
    for (h, expected) in [
        (start().await, vec!["public"]),
        (start_salted().await, vec!["public", "pairwise"]),
    ] {
        let d = json(
            h.http
                .get(h.url("/.well-known/openid-configuration"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(d["subject_types_supported"], serde_json::json!(expected));
    }
}

#[tokio::test]
async fn a_pairwise_client_never_falls_back_to_the_public_subject() {
    // No salt: the provider refuses to issue rather than leak the user's own id.
    let h = start().await;
    client(&h, "a", REDIRECT, SubjectType::Pairwise).await;
    let q = h.code("a", "alice", &[]).await;
    let r = h.redeem("a", &q).await;
    assert_eq!(r.status(), 500);
    assert_eq!(json(r).await["error"], "server_error");

    // A salt too short to be a secret is refused when the provider is built.
    let mut settings = Settings::default();
    settings.pairwise_salt = Some(PairwiseSalt::new(*b"short"));
    let built = sesame_op::Provider::builder("https://op.example".parse().unwrap())
        .with_store(Arc::new(sesame_op::MemoryStore::new()))
        .with_authenticator(NoLogin)
        .with_settings(settings)
        .build()
        .await;
    assert!(built.unwrap_err().to_string().contains("pairwise_salt"));
}

/// A back-channel listener that records every logout token it receives.
async fn logout_sink() -> (String, Arc<Mutex<Vec<String>>>) {
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&received);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/backchannel",
        post(move |Form(f): Form<HashMap<String, String>>| {
            let sink = Arc::clone(&sink);
            async move {
                sink.lock().unwrap().push(f["logout_token"].clone());
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

/// S2: one login session, three clients (two pairwise sectors and a public
/// client): three different `sid`s, and each client's logout token carries
/// the `sid` of its own ID token.
#[tokio::test]
async fn each_client_of_one_session_gets_its_own_sid_in_id_and_logout_tokens() {
    let (bc_url, received) = logout_sink().await;
    let h = start_salted().await;
    for (id, redirect, subject_type) in [
        ("a", REDIRECT, SubjectType::Pairwise),
        ("b", OTHER, SubjectType::Pairwise),
        ("public", OTHER, SubjectType::Public),
    ] {
        let bc = format!("{bc_url}?client={id}");
        let redirect = RedirectUri::new(redirect).unwrap();
        h.client(id, |c| {
            c.skip_consent = true;
            c.subject_type = subject_type;
            c.redirect_uris = vec![redirect];
            c.backchannel_logout_uri = Some(bc);
        })
        .await;
    }
    let mut sids = HashMap::new();
    for (id, redirect) in [("a", REDIRECT), ("b", OTHER), ("public", OTHER)] {
        let t = tokens(&h, id, redirect, "alice").await;
        let v = h
            .validate(id, t["id_token"].as_str().unwrap(), Some("nonce-123"))
            .await;
        sids.insert(id, v.claims.sid.expect("an ID token with a sid"));
    }
    assert_ne!(sids["a"], sids["b"], "two sectors, two sids");
    assert_ne!(sids["a"], sids["public"]);
    assert_ne!(sids["b"], sids["public"]);

    // RP-initiated logout (confirmed on the page): every client is told,
    // each with its own sid.
    let r = h
        .browser
        .get(h.url("/end_session"))
        .query(&[("client_id", "a")])
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    let r = h
        .browser
        .post(h.url("/end_session"))
        .form(&[
            ("interaction", hidden(&html, "interaction").as_str()),
            ("csrf_token", hidden(&html, "csrf_token").as_str()),
            ("logout", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for _ in 0..200 {
        if received.lock().unwrap().len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let tokens = received.lock().unwrap().clone();
    assert_eq!(tokens.len(), 3, "one logout token per client");
    let keys = h.jwks().await;
    let mut seen = HashMap::new();
    for token in tokens {
        let aud = sesame_core::UnverifiedJws::parse(&token)
            .unwrap()
            .insecure_payload()
            .map(|p| serde_json::from_slice::<Value>(&p).unwrap())
            .unwrap()["aud"]
            .as_str()
            .unwrap()
            .to_owned();
        let claims = IdTokenValidator::new(
            Issuer::new(h.base.clone()).unwrap(),
            ClientId::new(aud.clone()),
        )
        .with_algorithms([JwsAlgorithm::RS256])
        .validate_logout_token(&token, &keys, h.clock.now())
        .unwrap();
        seen.insert(aud, claims.sid.unwrap());
    }
    for id in ["a", "b", "public"] {
        assert_eq!(
            seen[id], sids[id],
            "{id}'s logout token carries its own sid"
        );
    }
}

/// S3: a registered pairwise client may not move to another sector with an
/// RFC 7592 update (nor change its subject type), so its tokens never carry
/// the `sub` another sector's client has for the user.
#[tokio::test]
async fn an_update_cannot_move_a_pairwise_client_into_another_sector() {
    let mut settings = salted();
    settings.registration = sesame_op::Registration::Open;
    let h = start_with(|b| b.with_settings(settings)).await;
    client(&h, "victim", OTHER, SubjectType::Pairwise).await;
    let victim_sub = sub_of(&h, "victim", &tokens(&h, "victim", OTHER, "alice").await).await;

    let r = h
        .http
        .post(h.url("/register"))
        .json(&serde_json::json!({"redirect_uris": [REDIRECT], "subject_type": "pairwise"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let info = json(r).await;
    let att = info["client_id"].as_str().unwrap().to_owned();
    let secret = info["client_secret"].as_str().unwrap().to_owned();
    let rat = info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let q = h.code(&att, "alice", &[]).await;
    let r = h
        .http
        .post(h.url("/token"))
        .basic_auth(&att, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", q["code_verifier"].as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let access = json(r).await["access_token"].as_str().unwrap().to_owned();
    let att_sub = json(h.userinfo(&access).await).await["sub"].clone();
    assert_ne!(att_sub, victim_sub.as_str());

    let put = |body: Value| {
        let (h, uri, rat) = (&h, info["registration_client_uri"].as_str().unwrap(), &rat);
        async move {
            h.http
                .put(uri)
                .bearer_auth(rat)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let moved = serde_json::json!({
        "client_id": att,
        "redirect_uris": ["https://other.example/any"],
        "subject_type": "pairwise",
    });
    let r = put(moved).await;
    assert_eq!(r.status(), 400);
    assert_eq!(json(r).await["error"], "invalid_client_metadata");
    let r = put(serde_json::json!({"client_id": att, "redirect_uris": [REDIRECT]})).await;
    assert_eq!(r.status(), 400, "pairwise → public");
    assert_eq!(json(r).await["error"], "invalid_client_metadata");
    // Another path on the same host is fine.
    let r = put(serde_json::json!({
        "client_id": att,
        "redirect_uris": ["https://rp.example/second"],
        "subject_type": "pairwise",
    }))
    .await;
    assert_eq!(r.status(), 200);

    let info = json(h.userinfo(&access).await).await;
    assert_eq!(info["sub"], att_sub, "the old token keeps its client's sub");
    assert_ne!(info["sub"], victim_sub.as_str());
}

/// OIDC Registration §5: a `sector_identifier_uri` names the sector of a
/// pairwise client whose redirect URIs span hosts; its document (fetched
/// at registration) must list every redirect URI.
#[tokio::test]
async fn a_sector_identifier_uri_must_list_every_redirect_uri() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route(
            "/sector.json",
            axum::routing::get(|| async { axum::Json(serde_json::json!([REDIRECT, OTHER])) }),
        )
        .route("/not-json", axum::routing::get(|| async { "hello" }))
        .route(
            "/gone",
            axum::routing::get(|| async { axum::http::StatusCode::NOT_FOUND }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut settings = salted();
    settings.registration = sesame_op::Registration::Open;
    settings.allow_private_outbound = true;
    let h = start_with(|b| b.with_settings(settings)).await;
    let register = |body: Value| {
        let h = &h;
        async move {
            h.http
                .post(h.url("/register"))
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let sector = format!("{at}/sector.json");
    let r = register(serde_json::json!({
        "redirect_uris": [REDIRECT, OTHER],
        "subject_type": "pairwise",
        "sector_identifier_uri": sector,
    }))
    .await;
    assert_eq!(r.status(), 201);
    let info = json(r).await;
    assert_eq!(info["sector_identifier_uri"], sector);
    for (uri, redirects, want) in [
        (
            sector.clone(),
            serde_json::json!([REDIRECT, "https://third.example/cb"]),
            "does not list",
        ),
        (
            format!("{at}/not-json"),
            serde_json::json!([REDIRECT]),
            "JSON array",
        ),
        (
            format!("{at}/gone"),
            serde_json::json!([REDIRECT]),
            "HTTP 404",
        ),
    ] {
        let r = register(serde_json::json!({
            "redirect_uris": redirects,
            "subject_type": "pairwise",
            "sector_identifier_uri": uri,
        }))
        .await;
        assert_eq!(r.status(), 400, "{want}");
        let e = json(r).await;
        assert_eq!(e["error"], "invalid_client_metadata");
        assert!(
            e["error_description"].as_str().unwrap().contains(want),
            "{e}"
        );
    }
}
