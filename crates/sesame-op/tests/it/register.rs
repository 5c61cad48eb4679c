//! Dynamic client registration (RFC 7591), client configuration (RFC 7592)
//! and `client_secret_jwt` (RFC 7523).

use serde_json::{Value, json};
use sesame_core::{ClientId, Clock, Issuer, JwsAlgorithm, ProviderMetadata, SigningKey, jws};
use sesame_op::{AuthMethod, Provider, Registration, Settings, secrets};

use crate::support::*;

const IAT: &str = "initial-access-token-for-tests-0123456789abcdef";

fn with_registration(registration: Registration) -> Settings {
    let mut s = Settings::default();
    s.registration = registration;
    s
}

async fn open() -> Harness {
    start_with(|b| b.with_settings(with_registration(Registration::Open))).await
}

async fn post_register(h: &Harness, body: &Value, token: Option<&str>) -> reqwest::Response {
    let mut req = h.http.post(h.url("/register")).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

/// Registers and returns the client information response.
async fn register(h: &Harness, body: Value) -> Value {
    let r = post_register(h, &body, None).await;
    assert_eq!(r.status(), 201, "{body}");
    assert_eq!(r.headers()["cache-control"], "no-store");
    json(r).await
}

fn config(
    h: &Harness,
    info: &Value,
    method: reqwest::Method,
    token: Option<&str>,
) -> reqwest::RequestBuilder {
    let uri = info["registration_client_uri"].as_str().unwrap();
    let req = h.http.request(method, uri);
    match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    }
}

async fn metadata(h: &Harness) -> ProviderMetadata {
    let body = h
        .http
        .get(h.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    ProviderMetadata::from_json(&body).unwrap()
}

fn challenge(r: &reqwest::Response) -> String {
    r.headers()["www-authenticate"].to_str().unwrap().to_owned()
}

/// 401 with a Bearer challenge carrying `error="invalid_token"`.
fn assert_invalid_token(r: &reqwest::Response) {
    assert_eq!(r.status(), 401);
    let c = challenge(r);
    assert!(
        c.starts_with("Bearer ") && c.contains("error=\"invalid_token\""),
        "{c}"
    );
}

async fn assert_error(r: reqwest::Response, code: &str) -> String {
    assert_eq!(r.status(), 400);
    let body = json(r).await;
    assert_eq!(body["error"], code, "{body}");
    body["error_description"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn registration_is_disabled_by_default() {
    assert_eq!(Settings::default().registration, Registration::Disabled);
    let h = start().await;
    assert_eq!(metadata(&h).await.registration_endpoint, None);
    let r = post_register(&h, &json!({"redirect_uris": [REDIRECT]}), None).await;
    assert_eq!(r.status(), 404);
    h.client("app", |_| {}).await;
    let r = h
        .http
        .get(h.url("/register/app"))
        .bearer_auth("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(h.store.list_clients().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_registered_client_completes_a_code_flow() {
    let h = open().await;
    let m = metadata(&h).await;
    assert_eq!(m.registration_endpoint, Some(h.url("/register")));
    m.validate(&Issuer::new(h.base.clone()).unwrap()).unwrap();

    let now = h.clock.now();
    let info = register(
        &h,
        json!({
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "client_name": "Registered RP",
            "scope": "openid profile email offline_access",
            "skip_consent": true,
        }),
    )
    .await;
    let client_id = info["client_id"].as_str().unwrap().to_owned();
    let secret = info["client_secret"].as_str().unwrap().to_owned();
    let rat = info["registration_access_token"].as_str().unwrap();
    assert!(client_id.len() >= 43 && secret.len() >= 43 && rat.len() >= 43);
    assert_eq!(info["client_id_issued_at"], now);
    assert_eq!(info["client_secret_expires_at"], 0);
    assert_eq!(
        info["registration_client_uri"],
        h.url(&format!("/register/{client_id}"))
    );
    assert_eq!(info["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(info["response_types"], json!(["code"]));
    assert_eq!(info["id_token_signed_response_alg"], "RS256");
    assert_eq!(info["client_name"], "Registered RP");

    // Stored hashed: neither the secret nor the token is kept in clear.
    let stored = h
        .store
        .find_client(&ClientId::new(&client_id))
        .await
        .unwrap()
        .unwrap();
    let raw = serde_json::to_string(&stored).unwrap();
    assert!(!raw.contains(&secret) && !raw.contains(rat), "{raw}");
    assert!(secrets::verify_secret(
        &secret,
        stored.client_secret_hash.as_deref().unwrap()
    ));
    assert!(stored.client_secret_jwt_key.is_none());
    // A registrant cannot make itself first-party; PKCE follows the
    // RFC 9700 policy (PKCE, or a nonce for this confidential client).
    assert!(!stored.skip_consent && !stored.require_pkce);

    // The full flow: login, consent (shown: a registered client is third-party), token.
    let q = h
        .code(
            &client_id,
            "alice",
            &[("scope", "openid email offline_access")],
        )
        .await;
    let r = h
        .http
        .post(h.url("/token"))
        .basic_auth(&client_id, Some(&secret))
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
    let tokens = json(r).await;
    assert!(tokens["refresh_token"].is_string());
    let id = h
        .validate(
            &client_id,
            tokens["id_token"].as_str().unwrap(),
            Some("nonce-123"),
        )
        .await;
    assert_eq!(id.claims.sub.as_str(), "alice");
    let r = h.userinfo(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(json(r).await["email"], "alice@example.com");
}

#[tokio::test]
async fn an_initial_access_token_can_be_required() {
    let hashes = vec![
        secrets::hash_generated_secret("another-token-0123456789abcdef-0123456789"),
        secrets::hash_generated_secret(IAT),
    ];
    let h = start_with(|b| {
        b.with_settings(with_registration(Registration::InitialAccessToken(hashes)))
    })
    .await;
    assert_eq!(
        metadata(&h).await.registration_endpoint,
        Some(h.url("/register"))
    );
    let body = json!({"redirect_uris": [REDIRECT]});
    // No token: a bare challenge (RFC 6750 §3.1).
    let r = post_register(&h, &body, None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(challenge(&r), format!("Bearer realm=\"{}\"", h.base));
    // A wrong token.
    let r = post_register(&h, &body, Some("wrong-token")).await;
    assert_invalid_token(&r);
    // A Basic header is not a Bearer token.
    let r = h
        .http
        .post(h.url("/register"))
        .basic_auth("x", Some(IAT))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(h.store.list_clients().await.unwrap().is_empty());
    // The right one.
    let r = post_register(&h, &body, Some(IAT)).await;
    assert_eq!(r.status(), 201);
    assert_eq!(h.store.list_clients().await.unwrap().len(), 1);
}

#[tokio::test]
async fn initial_access_tokens_must_be_configured_as_hashes() {
    struct NoLogin;
    #[async_trait::async_trait]
    impl sesame_op::Authenticator for NoLogin {
        async fn current_user(
            &self,
            _: &axum::http::request::Parts,
        ) -> Result<Option<sesame_op::EndUser>, sesame_op::AuthnError> {
            Ok(None)
        }
        fn login_url(&self, _: &sesame_op::LoginRequest) -> String {
            String::new()
        }
    }
    for tokens in [vec![], vec![IAT.to_owned()]] {
        let built = Provider::builder(Issuer::new("https://op.example").unwrap())
            .with_store(std::sync::Arc::new(sesame_op::MemoryStore::new()))
            .with_authenticator(NoLogin)
            .with_settings(with_registration(Registration::InitialAccessToken(tokens)))
            .build()
            .await;
        assert!(matches!(built, Err(sesame_op::BuildError::Setting(_))));
    }
}

#[tokio::test]
async fn invalid_metadata_is_refused() {
    let h = open().await;
    let cases = [
        (
            json!({"client_name": "no redirect"}),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            json!({"redirect_uris": ["https://rp.example/cb#fragment"]}),
            "invalid_redirect_uri",
            "fragment",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "tls_client_auth"}),
            "invalid_client_metadata",
            "token_endpoint_auth_method",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "response_types": ["code id_token"], "grant_types": ["authorization_code"]}),
            "invalid_client_metadata",
            "implicit",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "response_types": ["code"], "grant_types": ["implicit"]}),
            "invalid_client_metadata",
            "authorization_code",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "ftp://rp.example/jwks"}),
            "invalid_client_metadata",
            "jwks_uri",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "id_token_signed_response_alg": "HS256"}),
            "invalid_client_metadata",
            "id_token_signed_response_alg",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "backchannel_logout_uri": "http://internal.example/logout"}),
            "invalid_client_metadata",
            "backchannel_logout_uri",
        ),
    ];
    for (body, code, needle) in cases {
        let r = post_register(&h, &body, None).await;
        assert_eq!(r.headers()["cache-control"], "no-store");
        let description = assert_error(r, code).await;
        assert!(description.contains(needle), "{body}: {description}");
    }
    // Not JSON.
    let r = h
        .http
        .post(h.url("/register"))
        .form(&[("redirect_uris", REDIRECT)])
        .send()
        .await
        .unwrap();
    assert_error(r, "invalid_request").await;
    let r = h
        .http
        .post(h.url("/register"))
        .header("content-type", "application/json")
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    assert_error(r, "invalid_request").await;
    assert!(h.store.list_clients().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_configuration_endpoint_reads_updates_and_deletes() {
    let h = open().await;
    h.client("rs", |_| {}).await; // a resource server, to introspect with
    let info = register(
        &h,
        json!({"redirect_uris": [REDIRECT], "client_name": "Before"}),
    )
    .await;
    let other = register(&h, json!({"redirect_uris": [REDIRECT]})).await;
    let client_id = info["client_id"].as_str().unwrap();
    let secret = info["client_secret"].as_str().unwrap();
    let rat = info["registration_access_token"].as_str().unwrap();
    let other_rat = other["registration_access_token"].as_str().unwrap();
    let get = |token: Option<&'static str>| {
        let (h, info) = (&h, &info);
        async move {
            config(h, info, reqwest::Method::GET, token)
                .send()
                .await
                .unwrap()
        }
    };

    // Read.
    let r = config(&h, &info, reqwest::Method::GET, Some(rat))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let read = json(r).await;
    assert_eq!(read["client_id"], client_id);
    assert_eq!(read["client_name"], "Before");
    assert_eq!(read["registration_access_token"], rat);
    assert_eq!(
        read["registration_client_uri"],
        info["registration_client_uri"]
    );
    assert!(
        read.get("client_secret").is_none(),
        "the secret is shown once"
    );
    // Wrong, another client's, or no token.
    assert_invalid_token(&get(Some("wrong")).await);
    let r = config(&h, &info, reqwest::Method::GET, Some(other_rat))
        .send()
        .await
        .unwrap();
    assert_invalid_token(&r);
    let r = get(None).await;
    assert_eq!(r.status(), 401);
    assert!(!challenge(&r).contains("error="), "{}", challenge(&r));
    // A client registered by the operator has no registration access token.
    let r = h
        .http
        .get(h.url("/register/rs"))
        .bearer_auth(rat)
        .send()
        .await
        .unwrap();
    assert_invalid_token(&r);
    let r = h
        .http
        .get(h.url("/register/nobody"))
        .bearer_auth(rat)
        .send()
        .await
        .unwrap();
    assert_invalid_token(&r);

    // Update: the request repeats the metadata, with the changes.
    let mut update = read.clone();
    for server_member in [
        "registration_access_token",
        "registration_client_uri",
        "client_secret_expires_at",
        "client_id_issued_at",
    ] {
        update.as_object_mut().unwrap().remove(server_member);
    }
    update["client_name"] = json!("After");
    update["client_secret"] = json!(secret);
    update["redirect_uris"] = json!([REDIRECT, "https://rp.example/second"]);
    let put = |body: Value, token: &str| {
        let (h, info, token) = (&h, &info, token.to_owned());
        async move {
            config(h, info, reqwest::Method::PUT, Some(&token))
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    // Refused: wrong token, other client_id, a chosen secret, server members, bad metadata.
    assert_invalid_token(&put(update.clone(), "wrong").await);
    let mut bad = update.clone();
    bad["client_id"] = other["client_id"].clone();
    assert_error(put(bad, rat).await, "invalid_request").await;
    let mut bad = update.clone();
    bad.as_object_mut().unwrap().remove("client_id");
    assert_error(put(bad, rat).await, "invalid_request").await;
    let mut bad = update.clone();
    bad["client_secret"] = json!("my-own-chosen-secret");
    assert_error(put(bad, rat).await, "invalid_request").await;
    let mut bad = update.clone();
    bad["registration_access_token"] = json!(rat);
    assert_error(put(bad, rat).await, "invalid_request").await;
    let mut bad = update.clone();
    bad["redirect_uris"] = json!(["https://rp.example/cb#x"]);
    assert_error(put(bad, rat).await, "invalid_redirect_uri").await;
    let unchanged = json(get_with(&h, &info, rat).await).await;
    assert_eq!(unchanged["client_name"], "Before");

    let r = put(update.clone(), rat).await;
    assert_eq!(r.status(), 200);
    let updated = json(r).await;
    assert_eq!(updated["client_name"], "After");
    assert_eq!(updated["client_id"], client_id);
    assert!(updated.get("client_secret").is_none(), "the secret is kept");
    let read = json(get_with(&h, &info, rat).await).await;
    assert_eq!(read["redirect_uris"].as_array().unwrap().len(), 2);
    // Omitted members return to their defaults.
    let mut minimal = json!({"client_id": client_id, "redirect_uris": [REDIRECT]});
    let r = put(minimal.clone(), rat).await;
    assert_eq!(r.status(), 200);
    assert!(json(r).await.get("client_name").is_none());
    minimal["grant_types"] = json!(["authorization_code", "refresh_token"]);
    assert_eq!(put(minimal, rat).await.status(), 200);

    // The secret still works; get a token to watch it die with the client.
    let q = h
        .code(client_id, "alice", &[("scope", "openid offline_access")])
        .await;
    let tokens = json(
        h.http
            .post(h.url("/token"))
            .basic_auth(client_id, Some(secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", q["code"].as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", q["code_verifier"].as_str()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(h.userinfo(access).await.status(), 200);

    // Delete: a wrong token deletes nothing.
    let r = config(&h, &info, reqwest::Method::DELETE, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_invalid_token(&r);
    let r = config(&h, &info, reqwest::Method::DELETE, Some(other_rat))
        .send()
        .await
        .unwrap();
    assert_invalid_token(&r);
    assert_eq!(get_with(&h, &info, rat).await.status(), 200);
    let r = config(&h, &info, reqwest::Method::DELETE, Some(rat))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(
        h.store
            .find_client(&ClientId::new(client_id))
            .await
            .unwrap()
            .is_none()
    );
    assert_invalid_token(&get_with(&h, &info, rat).await);
    // Its credentials and tokens stop working.
    assert_invalid_token(&h.userinfo(access).await);
    let r = h
        .http
        .post(h.url("/introspect"))
        .basic_auth("rs", Some(SECRET))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["active"], false);
    let r = h
        .http
        .post(h.url("/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The other client is untouched.
    assert_eq!(get_with(&h, &other, other_rat).await.status(), 200);
}

async fn get_with(h: &Harness, info: &Value, token: &str) -> reqwest::Response {
    config(h, info, reqwest::Method::GET, Some(token))
        .send()
        .await
        .unwrap()
}

/// A client_secret_jwt assertion for `client_id`, keyed with `secret`.
fn hmac_assertion(alg: JwsAlgorithm, secret: &str, claims: &Value) -> String {
    let key = SigningKey::hmac(alg, secret.as_bytes()).unwrap();
    jws::sign(&key, Some("JWT"), claims).unwrap()
}

async fn with_assertion(h: &Harness, assertion: &str) -> reqwest::Response {
    h.http
        .post(h.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn client_secret_jwt_authentication() {
    let h = open().await;
    let m = metadata(&h).await;
    assert!(
        m.token_endpoint_auth_methods_supported
            .unwrap()
            .contains(&"client_secret_jwt".to_owned())
    );
    let algs = m.token_endpoint_auth_signing_alg_values_supported.unwrap();
    for alg in ["HS256", "HS384", "HS512", "RS256", "ES256"] {
        assert!(algs.contains(&alg.to_owned()), "{alg}");
    }

    let info = register(
        &h,
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_jwt"}),
    )
    .await;
    let id = info["client_id"].as_str().unwrap().to_owned();
    let secret = info["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(info["token_endpoint_auth_method"], "client_secret_jwt");
    assert!(secret.len() >= 64, "long enough for HS512");
    // The secret is kept (the HMAC needs it), but never shown by Debug.
    let stored = h
        .store
        .find_client(&ClientId::new(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.token_endpoint_auth_method,
        AuthMethod::ClientSecretJwt
    );
    assert_eq!(
        stored.client_secret_jwt_key.as_ref().unwrap().secret(),
        secret
    );
    assert!(!format!("{stored:?}").contains(&secret));

    let now = h.clock.now();
    // S15: the issuer is the audience (the token endpoint URL is refused below).
    let token_url = h.base.clone();
    let claims = |jti: &str, aud: &str| json!({"iss": id, "sub": id, "aud": aud, "jti": jti, "exp": now + 60, "iat": now});
    // Success with each HMAC algorithm.
    for (i, alg) in [
        JwsAlgorithm::HS256,
        JwsAlgorithm::HS384,
        JwsAlgorithm::HS512,
    ]
    .into_iter()
    .enumerate()
    {
        let a = hmac_assertion(alg, &secret, &claims(&format!("ok-{i}"), &token_url));
        let r = with_assertion(&h, &a).await;
        assert_eq!(r.status(), 200, "{alg:?}");
        assert_eq!(json(r).await["token_type"], "Bearer");
    }
    let a = hmac_assertion(JwsAlgorithm::HS256, &secret, &claims("ok-iss", &h.base));
    assert_eq!(with_assertion(&h, &a).await.status(), 200);
    let endpoint = h.url("/token");
    let a = hmac_assertion(
        JwsAlgorithm::HS256,
        &secret,
        &claims("j-endpoint", &endpoint),
    );
    assert_eq!(
        with_assertion(&h, &a).await.status(),
        401,
        "S15: not the endpoint URL"
    );

    let refused = |assertion: String| {
        let h = &h;
        async move {
            let r = with_assertion(h, &assertion).await;
            assert_eq!(r.status(), 401);
            assert_eq!(json(r).await["error"], "invalid_client");
        }
    };
    // A replayed jti.
    refused(hmac_assertion(
        JwsAlgorithm::HS256,
        &secret,
        &claims("ok-0", &token_url),
    ))
    .await;
    // The wrong secret.
    let wrong = format!("{}x", &secret[..secret.len() - 1]);
    refused(hmac_assertion(
        JwsAlgorithm::HS256,
        &wrong,
        &claims("j-wrong", &token_url),
    ))
    .await;
    // The wrong audience.
    refused(hmac_assertion(
        JwsAlgorithm::HS256,
        &secret,
        &claims("j-aud", "https://elsewhere.example/token"),
    ))
    .await;
    // Expired, and living too long.
    let mut expired = claims("j-exp", &token_url);
    expired["exp"] = json!(now - 120);
    refused(hmac_assertion(JwsAlgorithm::HS256, &secret, &expired)).await;
    // sub differs from iss.
    let mut other_sub = claims("j-sub", &token_url);
    other_sub["sub"] = json!("someone-else");
    refused(hmac_assertion(JwsAlgorithm::HS256, &secret, &other_sub)).await;
    // Signed with an asymmetric key instead of the secret.
    let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    refused(jws::sign(&key, Some("JWT"), &claims("j-es", &token_url)).unwrap()).await;
    // The secret itself, sent as Basic: the registered method is enforced.
    let r = h
        .http
        .post(h.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A private_key_jwt client's assertion cannot be an HMAC made with a public key.
    let pkj_key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    let pkj = h
        .client("pkj", |c| {
            c.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
            c.jwks = Some(sesame_core::JwkSet {
                keys: vec![pkj_key.public_jwk().unwrap()],
            });
            c.client_secret_hash = None;
        })
        .await;
    let public = serde_json::to_string(&pkj.jwks.unwrap()).unwrap();
    let forged = hmac_assertion(
        JwsAlgorithm::HS256,
        &public,
        &json!({"iss": "pkj", "sub": "pkj", "aud": token_url, "jti": "j-pkj", "exp": now + 60}),
    );
    refused(forged).await;
}

#[tokio::test]
async fn a_pinned_assertion_algorithm_is_enforced() {
    let h = open().await;
    let info = register(
        &h,
        json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_jwt",
               "token_endpoint_auth_signing_alg": "HS512"}),
    )
    .await;
    assert_eq!(info["token_endpoint_auth_signing_alg"], "HS512");
    let id = info["client_id"].as_str().unwrap();
    let secret = info["client_secret"].as_str().unwrap();
    let now = h.clock.now();
    let claims =
        |jti: &str| json!({"iss": id, "sub": id, "aud": h.base, "jti": jti, "exp": now + 60});
    let r = with_assertion(
        &h,
        &hmac_assertion(JwsAlgorithm::HS256, secret, &claims("a")),
    )
    .await;
    assert_eq!(r.status(), 401);
    let r = with_assertion(
        &h,
        &hmac_assertion(JwsAlgorithm::HS512, secret, &claims("b")),
    )
    .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn switching_to_client_secret_jwt_issues_a_new_secret() {
    let h = open().await;
    let info = register(&h, json!({"grant_types": ["client_credentials"]})).await;
    let id = info["client_id"].as_str().unwrap();
    let old = info["client_secret"].as_str().unwrap();
    let rat = info["registration_access_token"].as_str().unwrap();
    let r = config(&h, &info, reqwest::Method::PUT, Some(rat))
        .json(
            &json!({"client_id": id, "grant_types": ["client_credentials"],
                      "token_endpoint_auth_method": "client_secret_jwt"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let updated = json(r).await;
    let new = updated["client_secret"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(updated["client_secret_expires_at"], 0);
    let now = h.clock.now();
    let claims = json!({"iss": id, "sub": id, "aud": h.base, "jti": "s1", "exp": now + 60});
    let r = with_assertion(&h, &hmac_assertion(JwsAlgorithm::HS256, new, &claims)).await;
    assert_eq!(r.status(), 200);
    let mut claims = claims;
    claims["jti"] = json!("s2");
    let r = with_assertion(&h, &hmac_assertion(JwsAlgorithm::HS256, old, &claims)).await;
    assert_eq!(r.status(), 401);
    // Switching back keeps the secret (now only hashed) and drops its clear copy.
    let r = config(&h, &info, reqwest::Method::PUT, Some(rat))
        .json(&json!({"client_id": id, "grant_types": ["client_credentials"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(json(r).await.get("client_secret").is_none());
    let stored = h
        .store
        .find_client(&ClientId::new(id))
        .await
        .unwrap()
        .unwrap();
    assert!(stored.client_secret_jwt_key.is_none());
    let r = h
        .http
        .post(h.url("/token"))
        .basic_auth(id, Some(new))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// S26: a self-registered client's name is the registrant's text. The
/// consent page escapes it and says so, with where the user will be sent.
#[tokio::test]
async fn the_consent_page_marks_a_registrant_supplied_client_name() {
    let h = open().await;
    let name = "<script>alert(1)</script>Acme Payroll (official)";
    let info = register(
        &h,
        json!({"redirect_uris": [REDIRECT], "client_name": name}),
    )
    .await;
    let id = info["client_id"].as_str().unwrap();
    let (_, params) = code_params(id);
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = h.login(h.authorize(&pairs).await, "alice").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)"), "{html}");
    assert!(
        html.contains("This application registered itself"),
        "{html}"
    );
    assert!(html.contains("https:&#x2f;&#x2f;rp.example"), "{html}");

    // An operator's client is not marked.
    h.client("first-party", |c| c.client_name = Some("Payroll".into()))
        .await;
    let (_, params) = code_params("first-party");
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let html = h.authorize(&pairs).await.text().await.unwrap();
    assert!(html.contains("Payroll"), "{html}");
    assert!(!html.contains("registered itself"), "{html}");
}
