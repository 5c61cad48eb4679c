//! Server-provided DPoP nonces (RFC 9449 §8, §9): asked for with
//! `use_dpop_nonce` and a `DPoP-Nonce` header at the token endpoint, PAR
//! and userinfo; the current and the previous window's nonce accepted, the
//! newer one sent back; older or made-up nonces refused.

use serde_json::json;
use sesame_core::Clock as _;
use sesame_op::{DPOP_NONCE_WINDOW, DpopNonce, DpopNonceKey};

use crate::dpop::{Holder, redeem_with, userinfo_with};
use crate::support::*;

/// A provider that requires nonces, its clock at the start of a window.
async fn start_nonce() -> Harness {
    let h =
        start_with(|b| b.with_dpop_nonce(DpopNonce::Required(DpopNonceKey::new(vec![9u8; 32]))))
            .await;
    let w = DPOP_NONCE_WINDOW;
    h.clock.set((h.clock.now() / w + 1) * w);
    h.client("app", |_| {}).await;
    h
}

fn nonce_of(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_owned())
}

fn with_nonce(h: &Harness, holder: &Holder, path: &str, nonce: &str) -> String {
    holder.proof_with(h, "POST", path, None, |c| c["nonce"] = json!(nonce))
}

async fn refused_for_nonce(r: reqwest::Response, want: &str) -> String {
    assert_eq!(r.status(), 400, "{want}");
    let nonce = nonce_of(&r).expect("a DPoP-Nonce header");
    let e = json(r).await;
    assert_eq!(e["error"], "use_dpop_nonce", "{want}: {e}");
    assert!(
        e["error_description"].as_str().unwrap().contains(want),
        "{want}: {e}"
    );
    nonce
}

#[tokio::test]
async fn the_token_endpoint_asks_for_a_nonce_and_accepts_the_last_two_windows() {
    let h = start_nonce().await;
    let holder = Holder::new();
    let q = h.code("app", "dora", &[]).await;
    let plain = holder.proof(&h, "POST", "/token", None);
    let nonce = refused_for_nonce(
        redeem_with(&h, "app", &q, Some(&plain)).await,
        "must carry the nonce",
    )
    .await;
    // The refusal did not spend the code: the retry with the nonce redeems it.
    let r = redeem_with(
        &h,
        "app",
        &q,
        Some(&with_nonce(&h, &holder, "/token", &nonce)),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(nonce_of(&r), None, "the nonce is current");
    assert_eq!(json(r).await["token_type"], "DPoP");

    // The next window: still accepted, and answered with the newer nonce.
    h.clock.advance(DPOP_NONCE_WINDOW);
    let q = h.code("app", "dora", &[]).await;
    let r = redeem_with(
        &h,
        "app",
        &q,
        Some(&with_nonce(&h, &holder, "/token", &nonce)),
    )
    .await;
    assert_eq!(r.status(), 200);
    let newer = nonce_of(&r).expect("a newer nonce");
    assert_ne!(newer, nonce);

    // Two windows on, the first nonce is stale; a made-up one never worked.
    h.clock.advance(DPOP_NONCE_WINDOW);
    for (stale, want) in [(nonce.as_str(), "stale"), ("made-up", "stale")] {
        let q = h.code("app", "dora", &[]).await;
        let r = redeem_with(
            &h,
            "app",
            &q,
            Some(&with_nonce(&h, &holder, "/token", stale)),
        )
        .await;
        let given = refused_for_nonce(r, want).await;
        assert_ne!(given, nonce);
    }
    // Requests without a proof are not asked for one.
    let q = h.code("app", "dora", &[]).await;
    let r = h.redeem("app", &q).await;
    assert_eq!(r.status(), 200);
    assert_eq!(nonce_of(&r), None);
}

#[tokio::test]
async fn userinfo_asks_for_a_nonce_with_a_dpop_challenge() {
    let h = start_nonce().await;
    let holder = Holder::new();
    let q = h.code("app", "dora", &[]).await;
    let plain = holder.proof(&h, "POST", "/token", None);
    let nonce = refused_for_nonce(redeem_with(&h, "app", &q, Some(&plain)).await, "nonce").await;
    let r = redeem_with(
        &h,
        "app",
        &q,
        Some(&with_nonce(&h, &holder, "/token", &nonce)),
    )
    .await;
    let at = json(r).await["access_token"].as_str().unwrap().to_owned();

    let r = userinfo_with(
        &h,
        "DPoP",
        &at,
        Some(&holder.proof(&h, "GET", "/userinfo", Some(&at))),
    )
    .await;
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("DPoP "), "{challenge}");
    assert!(
        challenge.contains("error=\"use_dpop_nonce\""),
        "{challenge}"
    );
    assert_eq!(nonce_of(&r).as_deref(), Some(nonce.as_str()));

    let proof = holder.proof_with(&h, "GET", "/userinfo", Some(&at), |c| {
        c["nonce"] = json!(nonce);
    });
    let r = userinfo_with(&h, "DPoP", &at, Some(&proof)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["sub"], "dora");
}

#[tokio::test]
async fn par_asks_for_a_nonce_when_a_proof_comes() {
    let h = start_nonce().await;
    let holder = Holder::new();
    let (_, params) = code_params("app");
    let push = |proof: String| {
        let (h, params) = (&h, params.clone());
        async move {
            h.http
                .post(h.url("/par"))
                .basic_auth("app", Some(SECRET))
                .header("DPoP", proof)
                .form(&params)
                .send()
                .await
                .unwrap()
        }
    };
    let nonce =
        refused_for_nonce(push(holder.proof(&h, "POST", "/par", None)).await, "nonce").await;
    let r = push(with_nonce(&h, &holder, "/par", &nonce)).await;
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn without_the_switch_no_nonce_is_asked_or_given() {
    let h = start().await;
    h.client("app", |_| {}).await;
    let holder = Holder::new();
    let q = h.code("app", "dora", &[]).await;
    let r = redeem_with(
        &h,
        "app",
        &q,
        Some(&holder.proof(&h, "POST", "/token", None)),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(nonce_of(&r), None);
    // A nonce the server never gave is ignored (RFC 9449 §8 leaves it to the server).
    let q = h.code("app", "dora", &[]).await;
    let r = redeem_with(
        &h,
        "app",
        &q,
        Some(&with_nonce(&h, &holder, "/token", "any")),
    )
    .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_nonce_refusal_leaves_the_client_assertion_unspent() {
    let h = start_nonce().await;
    let key = sesame_core::SigningKey::generate(sesame_core::JwsAlgorithm::ES256).unwrap();
    let keys = sesame_core::JwkSet {
        keys: vec![key.public_jwk().unwrap()],
    };
    h.client("keyed", |c| {
        c.token_endpoint_auth_method = sesame_op::AuthMethod::PrivateKeyJwt;
        c.client_secret_hash = None;
        c.jwks = Some(keys);
        c.grant_types = vec![sesame_op::GrantType::ClientCredentials];
    })
    .await;
    let now = h.clock.now();
    let claims = json!({
        "iss": "keyed", "sub": "keyed", "aud": h.base,
        "jti": sesame_core::random::token().unwrap(), "iat": now, "exp": now + 60,
    });
    let assertion = sesame_core::jws::sign(&key, Some("JWT"), &claims).unwrap();
    let holder = Holder::new();
    let send = |proof: String| {
        h.http
            .post(h.url("/token"))
            .header("DPoP", proof)
            .form(&[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion.as_str()),
            ])
            .send()
    };
    let r = send(holder.proof(&h, "POST", "/token", None))
        .await
        .unwrap();
    let nonce = refused_for_nonce(r, "must carry the nonce").await;
    // The client retries with the same assertion (RFC 9449 §8: the request is
    // simply sent again with the nonce): its jti was not spent by the refusal.
    let r = send(with_nonce(&h, &holder, "/token", &nonce))
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // Spent now: a third use of the assertion is refused.
    let r = send(with_nonce(&h, &holder, "/token", &nonce))
        .await
        .unwrap();
    assert_eq!(json(r).await["error"], "invalid_client");
}
