//! DPoP (RFC 9449) at the provider: bound access tokens at the token
//! endpoint, userinfo and introspection; bound refresh tokens for public
//! clients; every refusal with its own error.

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::{Value, json};
use sesame_core::{Clock as _, JwsAlgorithm, SigningKey, jws};

use crate::support::*;

pub struct Holder {
    key: SigningKey,
}

impl Holder {
    pub fn new() -> Self {
        Self {
            key: SigningKey::generate(JwsAlgorithm::ES256).unwrap(),
        }
    }

    pub fn jkt(&self) -> String {
        self.key.public_jwk().unwrap().thumbprint().unwrap()
    }

    pub fn proof(&self, h: &Harness, method: &str, path: &str, token: Option<&str>) -> String {
        self.proof_with(h, method, path, token, |_| {})
    }

    /// A proof whose claims `edit` changes (a nonce, an old iat).
    pub fn proof_with(
        &self,
        h: &Harness,
        method: &str,
        path: &str,
        token: Option<&str>,
        edit: impl FnOnce(&mut Value),
    ) -> String {
        let mut claims = json!({
            "jti": sesame_core::random::token().unwrap(),
            "htm": method,
            "htu": h.url(path),
            "iat": h.clock.now(),
        });
        if let Some(t) = token {
            let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, t.as_bytes());
            claims["ath"] = json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash));
        }
        edit(&mut claims);
        let header = json!({"typ": "dpop+jwt", "jwk": self.key.public_jwk().unwrap()});
        jws::sign_with_header(&self.key, &header, &claims).unwrap()
    }
}

pub async fn redeem_with(
    h: &Harness,
    client: &str,
    q: &HashMap<String, String>,
    proof: Option<&str>,
) -> reqwest::Response {
    let mut r = h.http.post(h.url("/token")).form(&[
        ("grant_type", "authorization_code"),
        ("code", q["code"].as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", q["code_verifier"].as_str()),
        ("client_id", client),
    ]);
    if client != "spa" {
        r = r.basic_auth(client, Some(SECRET));
    }
    if let Some(p) = proof {
        r = r.header("DPoP", p);
    }
    r.send().await.unwrap()
}

pub async fn userinfo_with(
    h: &Harness,
    scheme: &str,
    token: &str,
    proof: Option<&str>,
) -> reqwest::Response {
    let mut r = h
        .http
        .get(h.url("/userinfo"))
        .header("authorization", format!("{scheme} {token}"));
    if let Some(p) = proof {
        r = r.header("DPoP", p);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn a_dpop_bound_access_token_works_only_with_its_key() {
    let h = start().await;
    h.client("app", |_| {}).await;
    let holder = Holder::new();
    let thief = Holder::new();
    let q = h.code("app", "dora", &[]).await;
    let r = redeem_with(
        &h,
        "app",
        &q,
        Some(&holder.proof(&h, "POST", "/token", None)),
    )
    .await;
    assert_eq!(r.status(), 200);
    let t = json(r).await;
    assert_eq!(t["token_type"], "DPoP");
    let at = t["access_token"].as_str().unwrap().to_owned();

    // Userinfo: the DPoP scheme with a proof of the key, bound to the token.
    let ok = userinfo_with(
        &h,
        "DPoP",
        &at,
        Some(&holder.proof(&h, "GET", "/userinfo", Some(&at))),
    )
    .await;
    assert_eq!(ok.status(), 200);
    let refused: Vec<(&str, Option<String>, &str)> = vec![
        ("Bearer", None, "DPoP-bound"),
        ("DPoP", None, "needs a DPoP proof"),
        (
            "DPoP",
            Some(thief.proof(&h, "GET", "/userinfo", Some(&at))),
            "not made with the key",
        ),
        (
            "DPoP",
            Some(holder.proof(&h, "GET", "/userinfo", None)),
            "ath",
        ),
        (
            "DPoP",
            Some(holder.proof(&h, "POST", "/userinfo", Some(&at))),
            "htm",
        ),
        (
            "DPoP",
            Some(holder.proof(&h, "GET", "/token", Some(&at))),
            "htu",
        ),
    ];
    for (scheme, proof, want) in refused {
        let r = userinfo_with(&h, scheme, &at, proof.as_deref()).await;
        assert_eq!(r.status(), 401, "{want}");
        let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.contains(want), "{want}: {challenge}");
    }
    // A proof works once.
    let once = holder.proof(&h, "GET", "/userinfo", Some(&at));
    assert_eq!(
        userinfo_with(&h, "DPoP", &at, Some(&once)).await.status(),
        200
    );
    let again = userinfo_with(&h, "DPoP", &at, Some(&once)).await;
    assert_eq!(again.status(), 401);
    assert!(
        again.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("DPoP")
    );

    // Introspection says so.
    let r = h
        .http
        .post(h.url("/introspect"))
        .basic_auth("app", Some(SECRET))
        .form(&[("token", at.as_str())])
        .send()
        .await
        .unwrap();
    let i = json(r).await;
    assert_eq!(i["token_type"], "DPoP");
    assert_eq!(i["cnf"]["jkt"], holder.jkt());
    // A bearer token is not taken as DPoP.
    let q = h.code("app", "dora", &[]).await;
    let bearer = json(h.redeem("app", &q).await).await;
    assert_eq!(bearer["token_type"], "Bearer");
    let bt = bearer["access_token"].as_str().unwrap();
    let r = userinfo_with(
        &h,
        "DPoP",
        bt,
        Some(&holder.proof(&h, "GET", "/userinfo", Some(bt))),
    )
    .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn the_token_endpoint_refuses_bad_proofs_and_clients_may_require_them() {
    let h = start().await;
    h.client("app", |_| {}).await;
    h.client("strict", |c| c.dpop_bound_access_tokens = true)
        .await;
    let holder = Holder::new();
    let used = holder.proof(&h, "POST", "/token", None);
    let q = h.code("app", "dora", &[]).await;
    assert_eq!(redeem_with(&h, "app", &q, Some(&used)).await.status(), 200);
    for (proof, want) in [
        (used.clone(), "already used"),
        (holder.proof(&h, "POST", "/userinfo", None), "htu"),
        (holder.proof(&h, "GET", "/token", None), "htm"),
        ("not-a-proof".to_owned(), "malformed"),
    ] {
        let q = h.code("app", "dora", &[]).await;
        let r = redeem_with(&h, "app", &q, Some(&proof)).await;
        assert_eq!(r.status(), 400, "{want}");
        let e = json(r).await;
        assert_eq!(e["error"], "invalid_dpop_proof", "{want}");
        assert!(
            e["error_description"].as_str().unwrap().contains(want),
            "{want}: {e}"
        );
    }
    let q = h.code("strict", "dora", &[]).await;
    let r = redeem_with(&h, "strict", &q, None).await;
    assert_eq!(r.status(), 400);
    assert_eq!(json(r).await["error"], "invalid_dpop_proof");
}

#[tokio::test]
async fn a_public_clients_refresh_token_is_bound_and_jwt_access_tokens_carry_cnf() {
    let h = start().await;
    h.client("spa", |c| {
        c.token_endpoint_auth_method = sesame_op::AuthMethod::None;
        c.skip_consent = true;
        c.jwt_access_tokens = true;
    })
    .await;
    let holder = Holder::new();
    let thief = Holder::new();
    let q = h
        .code("spa", "dora", &[("scope", "openid offline_access")])
        .await;
    let t = json(
        redeem_with(
            &h,
            "spa",
            &q,
            Some(&holder.proof(&h, "POST", "/token", None)),
        )
        .await,
    )
    .await;
    let at = t["access_token"].as_str().unwrap();
    let payload = sesame_core::UnverifiedJws::parse(at)
        .unwrap()
        .insecure_payload()
        .unwrap();
    let claims: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(claims["cnf"]["jkt"], holder.jkt());
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |proof: Option<String>| {
        let (h, rt) = (&h, rt.clone());
        async move {
            let mut r = h.http.post(h.url("/token")).form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
                ("client_id", "spa"),
            ]);
            if let Some(p) = proof {
                r = r.header("DPoP", p);
            }
            r.send().await.unwrap()
        }
    };
    for proof in [None, Some(thief.proof(&h, "POST", "/token", None))] {
        let r = refresh(proof).await;
        assert_eq!(r.status(), 400);
        let e = json(r).await;
        assert_eq!(e["error"], "invalid_grant", "{e}");
        assert!(
            e["error_description"]
                .as_str()
                .unwrap()
                .contains("bound to a DPoP key"),
            "{e}"
        );
    }
    // Not spent by the refusals: the holder refreshes.
    let r = refresh(Some(holder.proof(&h, "POST", "/token", None))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["token_type"], "DPoP");
}

#[tokio::test]
async fn a_confidential_clients_refresh_token_is_not_bound() {
    let h = start().await;
    h.client("app", |c| c.skip_consent = true).await;
    let holder = Holder::new();
    let q = h
        .code("app", "dora", &[("scope", "openid offline_access")])
        .await;
    let t = json(
        redeem_with(
            &h,
            "app",
            &q,
            Some(&holder.proof(&h, "POST", "/token", None)),
        )
        .await,
    )
    .await;
    assert_eq!(t["token_type"], "DPoP");
    let rt = t["refresh_token"].as_str().unwrap();
    // RFC 9449 §5: the client authenticates; its refresh token is not bound.
    let r = h
        .http
        .post(h.url("/token"))
        .basic_auth("app", Some(SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["token_type"], "Bearer");
}

#[tokio::test]
async fn a_stale_proof_is_refused_at_the_token_endpoint() {
    let h = start().await;
    h.client("app", |_| {}).await;
    let holder = Holder::new();
    let now = h.clock.now();
    for (iat, want) in [(now - 301, "too old"), (now + 61, "in the future")] {
        let q = h.code("app", "dora", &[]).await;
        let proof = holder.proof_with(&h, "POST", "/token", None, |c| c["iat"] = json!(iat));
        let r = redeem_with(&h, "app", &q, Some(&proof)).await;
        assert_eq!(r.status(), 400, "{want}");
        let e = json(r).await;
        assert_eq!(e["error"], "invalid_dpop_proof", "{want}");
        assert!(
            e["error_description"].as_str().unwrap().contains(want),
            "{want}: {e}"
        );
    }
    // Just inside the window, the same proof shape works.
    let q = h.code("app", "dora", &[]).await;
    let proof = holder.proof_with(&h, "POST", "/token", None, |c| c["iat"] = json!(now - 290));
    assert_eq!(redeem_with(&h, "app", &q, Some(&proof)).await.status(), 200);
}
