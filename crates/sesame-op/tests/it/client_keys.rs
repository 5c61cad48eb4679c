//! A client's keys at its `jwks_uri`: fetched through the outbound guard,
//! cached, fetched again at once for a rotated key, and at most once a
//! minute for kids that are never published.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sesame_core::{Clock as _, JwkSet, JwsAlgorithm, SigningKey, jws};

use crate::support::*;

struct Published {
    keys: Mutex<JwkSet>,
    hits: AtomicUsize,
}

async fn assertion_grant(h: &Harness, key: &SigningKey, client: &str) -> reqwest::Response {
    let now = h.clock.now();
    let claims = json!({
        "iss": client, "sub": client, "aud": h.base,
        "jti": sesame_core::random::token().unwrap(), "iat": now, "exp": now + 60,
    });
    let assertion = jws::sign(key, Some("JWT"), &claims).unwrap();
    h.http
        .post(h.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn jwks_uri_keys_are_cached_and_a_rotation_is_followed_at_once() {
    let first = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    let second = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    let stranger = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    let published = Arc::new(Published {
        keys: Mutex::new(JwkSet {
            keys: vec![first.public_jwk().unwrap()],
        }),
        hits: AtomicUsize::new(0),
    });
    let served = Arc::clone(&published);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_uri = format!("http://{}/jwks", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let served = Arc::clone(&served);
            async move {
                served.hits.fetch_add(1, Ordering::SeqCst);
                let keys: Value = serde_json::to_value(&*served.keys.lock().unwrap()).unwrap();
                axum::Json(keys)
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let h = start().await;
    h.client("svc", |c| {
        c.token_endpoint_auth_method = sesame_op::AuthMethod::PrivateKeyJwt;
        c.client_secret_hash = None;
        c.jwks_uri = Some(jwks_uri.clone());
        c.grant_types = vec![sesame_op::GrantType::ClientCredentials];
    })
    .await;
    let hits = || published.hits.load(Ordering::SeqCst);

    assert_eq!(assertion_grant(&h, &first, "svc").await.status(), 200);
    assert_eq!(assertion_grant(&h, &first, "svc").await.status(), 200);
    assert_eq!(hits(), 1, "cached");
    // The client rotates: the new kid is fetched at once, the first time.
    *published.keys.lock().unwrap() = JwkSet {
        keys: vec![second.public_jwk().unwrap()],
    };
    assert_eq!(assertion_grant(&h, &second, "svc").await.status(), 200);
    assert_eq!(hits(), 2);
    // A kid never published: one more fetch, then none within the minute.
    for _ in 0..5 {
        assert_eq!(assertion_grant(&h, &stranger, "svc").await.status(), 401);
    }
    assert_eq!(hits(), 3, "unknown kids refetch at most once per cooldown");
    assert_eq!(assertion_grant(&h, &second, "svc").await.status(), 200);
    assert_eq!(hits(), 3);
}

#[tokio::test]
async fn registration_takes_a_jwks_uri_for_private_key_jwt() {
    let h = start_with(|b| {
        let mut s = sesame_op::Settings::default();
        s.registration = sesame_op::Registration::Open;
        s.allow_private_outbound = true;
        b.with_settings(s)
    })
    .await;
    let r = h
        .http
        .post(h.url("/register"))
        .json(&json!({
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": "http://127.0.0.1:9/jwks",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(json(r).await["jwks_uri"], "http://127.0.0.1:9/jwks");
}
