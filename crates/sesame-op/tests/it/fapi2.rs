//! The FAPI 2.0 Security Profile, per client and for the whole provider:
//! pushed requests, PKCE S256, `private_key_jwt`, DPoP-bound tokens, codes of
//! at most 60 s, refresh tokens that are not rotated, the profile's
//! algorithms — each refusal with the protocol's error.

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::{Value, json};
use sesame_core::SecurityProfile as Profile;
use sesame_core::{Clock as _, JwkSet, JwsAlgorithm, SigningKey, jws};
use sesame_op::AuthMethod;

use crate::support::*;

const BANK: &str = "bank";

/// The client's two keys: the one it authenticates with, and its DPoP key.
struct Bank {
    auth: SigningKey,
    dpop: SigningKey,
}

/// Where the profile is set.
#[derive(Clone, Copy)]
enum HeldBy {
    Client,
    Provider,
}

async fn setup(held: HeldBy) -> (Harness, Bank) {
    let h = start_with(|b| {
        let mut s = sesame_op::Settings::default();
        // Longer than the profile allows: the profile must cut it to 60 s.
        s.code_ttl = 600;
        // Allowed for other clients: the profile must still refuse it.
        s.allow_plain_pkce = true;
        if let HeldBy::Provider = held {
            s.profile = Some(Profile::Fapi2);
        }
        b.with_settings(s)
    })
    .await;
    let bank = Bank {
        auth: SigningKey::generate(JwsAlgorithm::ES256).unwrap(),
        dpop: SigningKey::generate(JwsAlgorithm::ES256).unwrap(),
    };
    let keys = JwkSet {
        keys: vec![bank.auth.public_jwk().unwrap()],
    };
    h.client(BANK, |c| {
        c.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
        c.client_secret_hash = None;
        c.jwks = Some(keys);
        c.id_token_signed_response_alg = JwsAlgorithm::ES256;
        if let HeldBy::Client = held {
            c.profile = Some(Profile::Fapi2);
        }
    })
    .await;
    (h, bank)
}

impl Bank {
    fn assertion_with(&self, h: &Harness, key: &SigningKey) -> String {
        let now = h.clock.now();
        let claims = json!({
            "iss": BANK, "sub": BANK, "aud": h.base,
            "jti": sesame_core::random::token().unwrap(), "iat": now, "exp": now + 60,
        });
        jws::sign(key, Some("JWT"), &claims).unwrap()
    }

    fn proof(&self, h: &Harness, method: &str, path: &str, token: Option<&str>) -> String {
        let mut claims = json!({
            "jti": sesame_core::random::token().unwrap(),
            "htm": method, "htu": h.url(path), "iat": h.clock.now(),
        });
        if let Some(t) = token {
            let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, t.as_bytes());
            claims["ath"] = json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash));
        }
        let header = json!({"typ": "dpop+jwt", "jwk": self.dpop.public_jwk().unwrap()});
        jws::sign_with_header(&self.dpop, &header, &claims).unwrap()
    }

    /// POSTs `form` to `path`, authenticated with `private_key_jwt`.
    async fn post(
        &self,
        h: &Harness,
        path: &str,
        form: &[(&str, &str)],
        dpop: Option<String>,
    ) -> reqwest::Response {
        let assertion = self.assertion_with(h, &self.auth);
        let mut form = form.to_vec();
        form.push((
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ));
        form.push(("client_assertion", &assertion));
        let mut r = h.http.post(h.url(path)).form(&form);
        if let Some(p) = dpop {
            r = r.header("DPoP", p);
        }
        r.send().await.unwrap()
    }

    /// Pushes the code request with `extra` replacing and `without` removed;
    /// the PAR response and the PKCE verifier.
    async fn push(
        &self,
        h: &Harness,
        extra: &[(&str, &str)],
        without: &[&str],
    ) -> (reqwest::Response, String) {
        let (verifier, mut params) = code_params(BANK);
        params.retain(|(k, _)| !without.contains(&k.as_str()));
        for (k, v) in extra {
            params.retain(|(name, _)| name != k);
            params.push(((*k).to_owned(), (*v).to_owned()));
        }
        let form: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        (self.post(h, "/par", &form, None).await, verifier)
    }

    /// A pushed request taken through login and consent: the redirect's
    /// parameters, with the verifier as `code_verifier`.
    async fn code(&self, h: &Harness, extra: &[(&str, &str)]) -> HashMap<String, String> {
        let (r, verifier) = self.push(h, extra, &[]).await;
        assert_eq!(r.status(), 201);
        let uri = json(r).await["request_uri"].as_str().unwrap().to_owned();
        let mut r = h
            .authorize(&[("client_id", BANK), ("request_uri", &uri)])
            .await;
        if location_opt(&r).is_some_and(|l| l.contains("/test-login")) {
            r = h.login(r, "pia").await;
        }
        if r.status() == 200 {
            r = h.consent(r, true).await;
        }
        let mut q = redirect_params(&r);
        q.insert("code_verifier".into(), verifier);
        q
    }

    async fn redeem(
        &self,
        h: &Harness,
        q: &HashMap<String, String>,
        dpop: Option<String>,
    ) -> reqwest::Response {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", q["code_verifier"].as_str()),
        ];
        self.post(h, "/token", &form, dpop).await
    }

    async fn refresh(&self, h: &Harness, rt: &str) -> reqwest::Response {
        let form = [("grant_type", "refresh_token"), ("refresh_token", rt)];
        let proof = self.proof(h, "POST", "/token", None);
        self.post(h, "/token", &form, Some(proof)).await
    }
}

fn error_of(q: &HashMap<String, String>) -> (&str, &str) {
    (
        q.get("error").map_or("", String::as_str),
        q.get("error_description").map_or("", String::as_str),
    )
}

#[tokio::test]
async fn a_fapi2_client_signs_in_through_par_with_dpop_and_keeps_its_refresh_token() {
    for held in [HeldBy::Client, HeldBy::Provider] {
        let (h, bank) = setup(held).await;
        let d = json(
            h.http
                .get(h.url("/.well-known/openid-configuration"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let provider_wide = matches!(held, HeldBy::Provider);
        assert_eq!(d["require_pushed_authorization_requests"], provider_wide);

        let q = bank
            .code(
                &h,
                &[("scope", "openid offline_access"), ("prompt", "consent")],
            )
            .await;
        assert_eq!(q.get("iss"), Some(&h.base), "RFC 9207 iss: {q:?}");
        let r = bank
            .redeem(&h, &q, Some(bank.proof(&h, "POST", "/token", None)))
            .await;
        assert_eq!(r.status(), 200);
        let t = json(r).await;
        assert_eq!(t["token_type"], "DPoP");
        let at = t["access_token"].as_str().unwrap();
        let rt = t["refresh_token"].as_str().unwrap().to_owned();
        let id = h
            .validate(BANK, t["id_token"].as_str().unwrap(), Some("nonce-123"))
            .await;
        assert_eq!(id.header.alg, JwsAlgorithm::ES256);
        assert_eq!(id.claims.sub.as_str(), "pia");
        // The access token is sender-constrained: userinfo needs the proof.
        let info = h
            .http
            .get(h.url("/userinfo"))
            .header("authorization", format!("DPoP {at}"))
            .header("DPoP", bank.proof(&h, "GET", "/userinfo", Some(at)))
            .send()
            .await
            .unwrap();
        assert_eq!(info.status(), 200);

        // No rotation (FAPI 2.0 §5.3.2.1 #10): the same refresh token works
        // again, so a response the client lost costs it nothing.
        for _ in 0..2 {
            let r = bank.refresh(&h, &rt).await;
            assert_eq!(r.status(), 200);
            let t = json(r).await;
            assert_eq!(t["token_type"], "DPoP");
            assert_eq!(t.get("refresh_token"), None, "not rotated: {t}");
        }
    }
}

#[tokio::test]
async fn a_fapi2_code_lives_at_most_60_seconds() {
    let (h, bank) = setup(HeldBy::Client).await;
    let q = bank.code(&h, &[]).await;
    h.clock.advance(61);
    let r = bank
        .redeem(&h, &q, Some(bank.proof(&h, "POST", "/token", None)))
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(json(r).await["error"], "invalid_grant");
}

#[tokio::test]
async fn a_fapi2_request_without_par_or_pkce_is_refused() {
    for held in [HeldBy::Client, HeldBy::Provider] {
        let (h, bank) = setup(held).await;
        // Not pushed.
        let (_, params) = code_params(BANK);
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let q = redirect_params(&h.authorize(&pairs).await);
        let (code, description) = error_of(&q);
        assert_eq!(code, "invalid_request");
        assert!(description.contains("pushed"), "{description}");

        // Pushed without PKCE (a nonce is not enough under the profile).
        let (r, _) = bank
            .push(&h, &[], &["code_challenge", "code_challenge_method"])
            .await;
        assert_eq!(r.status(), 201);
        let uri = json(r).await["request_uri"].as_str().unwrap().to_owned();
        let r = h
            .authorize(&[("client_id", BANK), ("request_uri", &uri)])
            .await;
        let q = redirect_params(&r);
        let (code, description) = error_of(&q);
        assert_eq!(code, "invalid_request");
        assert!(description.contains("PKCE"), "{description}");

        // Pushed with PKCE plain (S256 only under the profile).
        let (r, _) = bank
            .push(
                &h,
                &[
                    ("code_challenge", &"p".repeat(43)),
                    ("code_challenge_method", "plain"),
                ],
                &[],
            )
            .await;
        assert_eq!(r.status(), 201);
        let uri = json(r).await["request_uri"].as_str().unwrap().to_owned();
        let r = h
            .authorize(&[("client_id", BANK), ("request_uri", &uri)])
            .await;
        let q = redirect_params(&r);
        let (code, description) = error_of(&q);
        assert_eq!(code, "invalid_request");
        assert!(description.contains("S256"), "{description}");
    }
}

#[tokio::test]
async fn a_fapi2_token_request_without_dpop_is_refused() {
    let (h, bank) = setup(HeldBy::Client).await;
    let q = bank.code(&h, &[]).await;
    let r = bank.redeem(&h, &q, None).await;
    assert_eq!(r.status(), 400);
    let e = json(r).await;
    assert_eq!(e["error"], "invalid_dpop_proof", "{e}");
    // The refusal did not spend the code.
    let r = bank
        .redeem(&h, &q, Some(bank.proof(&h, "POST", "/token", None)))
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_fapi2_assertion_signed_with_rs256_is_refused() {
    let (h, bank) = setup(HeldBy::Client).await;
    // The client registers an RS256 key as well; the profile still refuses RS256.
    let rsa = SigningKey::generate(JwsAlgorithm::RS256).unwrap();
    let mut c = h
        .store
        .find_client(&sesame_core::ClientId::new(BANK))
        .await
        .unwrap()
        .unwrap();
    c.jwks
        .as_mut()
        .unwrap()
        .keys
        .push(rsa.public_jwk().unwrap());
    h.store.save_client(&c).await.unwrap();
    let assertion = bank.assertion_with(&h, &rsa);
    let r = h
        .http
        .post(h.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ])
        .header("DPoP", bank.proof(&h, "POST", "/token", None))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let e: Value = json(r).await;
    assert_eq!(e["error"], "invalid_client");
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("FAPI 2.0"),
        "{e}"
    );
    // The same request with the ES256 key is accepted.
    let r = bank
        .post(
            &h,
            "/token",
            &[("grant_type", "client_credentials")],
            Some(bank.proof(&h, "POST", "/token", None)),
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_client_that_breaks_the_profile_is_refused_with_each_breach_named() {
    let (h, _) = setup(HeldBy::Provider).await;
    // A client_secret_basic client with RS256 ID tokens, under a FAPI 2.0 provider.
    h.client("legacy", |_| {}).await;
    let (_, params) = code_params("legacy");
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = h.authorize(&pairs).await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(page.contains("unauthorized_client"), "{page}");
    assert!(page.contains("private_key_jwt"), "{page}");
    assert!(page.contains("PS256, ES256 or EdDSA"), "{page}");
    let r = h
        .http
        .post(h.url("/token"))
        .basic_auth("legacy", Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(json(r).await["error"], "invalid_client");
}

#[tokio::test]
async fn registration_under_a_fapi2_provider_takes_only_conforming_clients() {
    let h = start_with(|b| {
        let mut s = sesame_op::Settings::default();
        s.registration = sesame_op::Registration::Open;
        s.profile = Some(Profile::Fapi2);
        b.with_settings(s)
    })
    .await;
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
    let r = register(json!({"redirect_uris": [REDIRECT]})).await;
    assert_eq!(r.status(), 400);
    let e = json(r).await;
    assert_eq!(e["error"], "invalid_client_metadata");
    let description = e["error_description"].as_str().unwrap();
    assert!(description.contains("private_key_jwt"), "{description}");
    assert!(description.contains("ID tokens"), "{description}");
    let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    let r = register(json!({
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [key.public_jwk().unwrap()]},
        "id_token_signed_response_alg": "ES256",
    }))
    .await;
    assert_eq!(r.status(), 201);
}

/// A client_credentials request at /token authenticated with `claims`
/// signed by the bank's key (and a DPoP proof, as the profile wants).
async fn token_with_assertion(h: &Harness, bank: &Bank, claims: &Value) -> reqwest::Response {
    let assertion = jws::sign(&bank.auth, Some("JWT"), claims).unwrap();
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
        .header("DPoP", bank.proof(h, "POST", "/token", None))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_client_assertion_not_valid_yet_is_refused() {
    let (h, bank) = setup(HeldBy::Client).await;
    let now = h.clock.now();
    // 8 s of clock skew is accepted (FAPI 2.0 §5.3.2.1); 70 s ahead is not (RFC 7519 §4.1.5).
    for (claim, ahead, status) in [
        ("nbf", 8, 200),
        ("iat", 8, 200),
        ("nbf", 70, 401),
        ("iat", 70, 401),
    ] {
        let mut claims = json!({
            "iss": BANK, "sub": BANK, "aud": h.base,
            "jti": sesame_core::random::token().unwrap(), "iat": now, "exp": now + 120,
        });
        claims[claim] = json!(now + ahead);
        let r = token_with_assertion(&h, &bank, &claims).await;
        assert_eq!(r.status(), status, "{claim} {ahead} s ahead");
        if status == 401 {
            let e: Value = json(r).await;
            assert_eq!(e["error"], "invalid_client");
            assert!(
                e["error_description"]
                    .as_str()
                    .unwrap()
                    .contains("not valid yet"),
                "{e}"
            );
        }
    }
}

#[tokio::test]
async fn a_fapi2_assertion_must_name_the_issuer_even_with_the_legacy_audience_on() {
    let (h, bank) = setup(HeldBy::Client).await;
    let id = sesame_core::ClientId::new(BANK);
    let mut c = h.store.find_client(&id).await.unwrap().unwrap();
    c.legacy_assertion_audience = true;
    h.store.save_client(&c).await.unwrap();
    let to_token_endpoint = || {
        let now = h.clock.now();
        json!({
            "iss": BANK, "sub": BANK, "aud": h.url("/token"),
            "jti": sesame_core::random::token().unwrap(), "iat": now, "exp": now + 60,
        })
    };
    // FAPI 2.0 §5.3.2.1 #8: the issuer only.
    let r = token_with_assertion(&h, &bank, &to_token_endpoint()).await;
    assert_eq!(r.status(), 401);
    let e: Value = json(r).await;
    assert_eq!(e["error"], "invalid_client");
    // Without the profile, the legacy switch lets the token endpoint through.
    c.profile = None;
    h.store.save_client(&c).await.unwrap();
    let r = token_with_assertion(&h, &bank, &to_token_endpoint()).await;
    assert_eq!(r.status(), 200);
}
