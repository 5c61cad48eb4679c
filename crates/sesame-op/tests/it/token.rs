use serde_json::Value;
use sesame_core::Clock;

use crate::support::*;

async fn post_token(h: &Harness, client: &str, form: &[(&str, &str)]) -> reqwest::Response {
    h.http
        .post(h.url("/token"))
        .basic_auth(client, Some(SECRET))
        .form(form)
        .send()
        .await
        .unwrap()
}

fn error(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("")
}

#[tokio::test]
async fn redirect_uri_must_match_at_the_token_endpoint() {
    let h = start().await;
    h.client("app", |c| {
        c.skip_consent = true;
        c.redirect_uris
            .push(sesame_core::RedirectUri::new("https://rp.example/other").unwrap());
    })
    .await;
    let q = h.code("app", "alice", &[]).await;
    for bad in [None, Some("https://rp.example/other")] {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("code_verifier", q["code_verifier"].as_str()),
        ];
        if let Some(b) = bad {
            form.push(("redirect_uri", b));
        }
        let r = post_token(&h, "app", &form).await;
        assert_eq!(r.status(), 400);
        // The first failure consumed the code; either way it is invalid_grant.
        assert_eq!(error(&json(r).await), "invalid_grant");
    }
}

#[tokio::test]
async fn a_replayed_code_fails_and_revokes_what_the_first_use_issued() {
    let h = start().await;
    h.client("app", |c| c.skip_consent = true).await;
    let q = h
        .code(
            "app",
            "alice",
            &[("scope", "openid offline_access"), ("prompt", "consent")],
        )
        .await;
    let first = json(h.redeem("app", &q).await).await;
    let access = first["access_token"].as_str().unwrap();
    let refresh = first["refresh_token"].as_str().unwrap();
    assert_eq!(h.userinfo(access).await.status(), 200);

    let second = h.redeem("app", &q).await;
    assert_eq!(second.status(), 400);
    assert_eq!(error(&json(second).await), "invalid_grant");
    // The first use's tokens stop working.
    let r = h.userinfo(access).await;
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let r = post_token(
        &h,
        "app",
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(error(&json(r).await), "invalid_grant");
}

/// Exchanges of one code racing each other (the read of the code, then its
/// redemption): one gets tokens, every other is refused as a replay, and that
/// replay revokes what the winner got. Whether two of them pass the read
/// before either redeems is up to the scheduler (it does about one run in
/// three here); the store's own race is pinned by the conformance suite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_exchanges_of_one_code_issue_tokens_once() {
    let h = start().await;
    h.client("app", |c| c.skip_consent = true).await;
    let q = h.code("app", "alice", &[]).await;
    let form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", q["code"].clone()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("code_verifier", q["code_verifier"].clone()),
    ];
    let mut sends = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (http, url, form) = (h.http.clone(), h.url("/token"), form.clone());
        sends.spawn(async move {
            let r = http
                .post(url)
                .basic_auth("app", Some(SECRET))
                .form(&form)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        });
    }
    let mut issued = Vec::new();
    while let Some(answer) = sends.join_next().await {
        let (status, body) = answer.unwrap();
        if status == 200 {
            issued.push(body["access_token"].as_str().unwrap().to_owned());
        } else {
            assert_eq!((status.as_u16(), error(&body)), (400, "invalid_grant"));
        }
    }
    assert_eq!(issued.len(), 1, "exactly one exchange gets tokens");
    assert_eq!(
        h.userinfo(&issued[0]).await.status(),
        401,
        "the replays revoked them"
    );
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let h = start().await;
    h.client("app", |c| c.skip_consent = true).await;
    let q = h.code("app", "alice", &[]).await;
    h.clock.advance(61);
    let r = h.redeem("app", &q).await;
    assert_eq!(error(&json(r).await), "invalid_grant");
}

#[tokio::test]
async fn pkce_verifier_must_match_and_be_present() {
    let h = start().await;
    h.client("app", |c| c.skip_consent = true).await;
    let q = h.code("app", "alice", &[]).await;
    let other = sesame_core::CodeVerifier::random().unwrap();
    let r = post_token(
        &h,
        "app",
        &[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", other.secret()),
        ],
    )
    .await;
    assert_eq!(error(&json(r).await), "invalid_grant");

    let q = h.code("app", "alice", &[]).await;
    let r = post_token(
        &h,
        "app",
        &[
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(error(&json(r).await), "invalid_request");
}

/// The exchange is checked against a read of the code before it is redeemed;
/// a refused exchange still spends the code, as when the code was consumed
/// before the checks (a guessed verifier gets one try).
#[tokio::test]
async fn a_refused_code_exchange_spends_the_code() {
    let h = start().await;
    h.client("app", |c| c.skip_consent = true).await;
    let other = sesame_core::CodeVerifier::random().unwrap();
    for (name, value) in [
        ("code_verifier", other.secret()),
        ("redirect_uri", "https://x.example/"),
    ] {
        let q = h.code("app", "alice", &[]).await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", q["code"].as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", q["code_verifier"].as_str()),
        ];
        form.retain(|(k, _)| *k != name);
        form.push((name, value));
        let r = post_token(&h, "app", &form).await;
        assert_eq!(error(&json(r).await), "invalid_grant", "wrong {name}");
        let r = h.redeem("app", &q).await;
        assert_eq!(r.status(), 400, "after a wrong {name}");
        assert_eq!(error(&json(r).await), "invalid_grant");
    }
}

/// A code whose user is gone is refused, and spent by the refusal: the user
/// coming back does not make it redeemable.
#[tokio::test]
async fn a_code_refused_for_a_removed_user_stays_spent() {
    let h = start().await;
    h.client("app", |c| c.skip_consent = true).await;
    let q = h.code("app", "gone-redeem", &[("scope", "openid")]).await;
    crate::support::REMOVED
        .lock()
        .unwrap()
        .push("gone-redeem".into());
    let r = h.redeem("app", &q).await;
    assert_eq!(error(&json(r).await), "invalid_grant", "the user is gone");
    crate::support::REMOVED
        .lock()
        .unwrap()
        .retain(|u| u != "gone-redeem");
    let r = h.redeem("app", &q).await;
    assert_eq!(r.status(), 400, "the refusal spent the code");
    assert_eq!(error(&json(r).await), "invalid_grant");
}

#[tokio::test]
async fn public_client_uses_pkce_and_no_secret() {
    let h = start().await;
    h.client("spa", |c| {
        c.skip_consent = true;
        c.token_endpoint_auth_method = sesame_op::AuthMethod::None;
    })
    .await;
    let q = h.code("spa", "alice", &[]).await;
    let r = h
        .http
        .post(h.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", q["code"].as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", q["code_verifier"].as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A confidential client cannot skip authentication by acting public.
    h.client("conf", |c| c.skip_consent = true).await;
    let q = h.code("conf", "alice", &[]).await;
    let r = h
        .http
        .post(h.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "conf"),
            ("code", q["code"].as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", q["code_verifier"].as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn client_authentication_failures() {
    let h = start().await;
    h.client("app", |_| {}).await;
    h.client("post", |c| {
        c.token_endpoint_auth_method = sesame_op::AuthMethod::ClientSecretPost
    })
    .await;
    let cc = [("grant_type", "client_credentials")];
    // Wrong secret: 401 invalid_client with a Basic challenge.
    let r = h
        .http
        .post(h.url("/token"))
        .basic_auth("app", Some("wrong"))
        .form(&cc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(error(&json(r).await), "invalid_client");
    // Unknown client.
    let r = h
        .http
        .post(h.url("/token"))
        .basic_auth("ghost", Some(SECRET))
        .form(&cc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The registered method is enforced: a basic client may not post its secret.
    let r = h
        .http
        .post(h.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app"),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = h
        .http
        .post(h.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "post"),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Credentials in both the header and the body: invalid_request (RFC 6749 §2.3).
    let r = h
        .http
        .post(h.url("/token"))
        .basic_auth("app", Some(SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error(&json(r).await), "invalid_request");
    // Not a form: invalid_request, not a framework 415.
    let r = h
        .http
        .post(h.url("/token"))
        .basic_auth("app", Some(SECRET))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error(&json(r).await), "invalid_request");
    // Unknown grant type.
    let r = post_token(
        &h,
        "app",
        &[
            ("grant_type", "password"),
            ("username", "a"),
            ("password", "b"),
        ],
    )
    .await;
    assert_eq!(error(&json(r).await), "unsupported_grant_type");
}

#[tokio::test]
async fn refresh_rotation_and_reuse_detection() {
    let h = start().await;
    h.client("app", |c| c.skip_consent = true).await;
    let q = h
        .code("app", "alice", &[("scope", "openid email offline_access")])
        .await;
    let t1 = json(h.redeem("app", &q).await).await;
    let r1 = t1["refresh_token"].as_str().unwrap().to_owned();
    let first_id = h
        .validate("app", t1["id_token"].as_str().unwrap(), Some("nonce-123"))
        .await;

    h.clock.advance(30);
    let t2 = json(
        post_token(
            &h,
            "app",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r1),
                ("scope", "openid"),
            ],
        )
        .await,
    )
    .await;
    let r2 = t2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    assert_eq!(t2["scope"], "openid");
    let refreshed = h
        .validate("app", t2["id_token"].as_str().unwrap(), None)
        .await;
    // auth_time comes from the provider session, stable across refresh.
    assert_eq!(refreshed.claims.auth_time, first_id.claims.auth_time);
    assert_eq!(refreshed.claims.sid, first_id.claims.sid);
    // Widening on refresh is refused.
    let r = post_token(
        &h,
        "app",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r2),
            ("scope", "openid groups"),
        ],
    )
    .await;
    assert_eq!(error(&json(r).await), "invalid_scope");
    // A refused request does not spend the token: r2 still works.
    let t3 = json(
        post_token(
            &h,
            "app",
            &[("grant_type", "refresh_token"), ("refresh_token", &r2)],
        )
        .await,
    )
    .await;
    let r3 = t3["refresh_token"].as_str().unwrap().to_owned();
    // Reuse of a rotated token (r1) revokes the whole family.
    let r = post_token(
        &h,
        "app",
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    )
    .await;
    assert_eq!(error(&json(r).await), "invalid_grant");
    assert_eq!(
        h.userinfo(t3["access_token"].as_str().unwrap())
            .await
            .status(),
        401
    );
    let r = post_token(
        &h,
        "app",
        &[("grant_type", "refresh_token"), ("refresh_token", &r3)],
    )
    .await;
    assert_eq!(error(&json(r).await), "invalid_grant");
}

#[tokio::test]
async fn offline_access_needs_explicit_consent_or_a_first_party_client() {
    let h = start().await;
    h.client("third", |_| {}).await;
    // A stored consent for openid does not cover offline_access: the page is shown again.
    let q = h.code("third", "alice", &[("scope", "openid")]).await;
    assert!(q.contains_key("code"));
    let (_, mut params) = code_params("third");
    params.retain(|(k, _)| k != "scope");
    params.push(("scope".into(), "openid offline_access".into()));
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = h.authorize(&pairs).await;
    assert_eq!(r.status(), 200, "consent page");
    assert!(r.text().await.unwrap().contains("refresh tokens"));
    // Allowed on the page: a refresh token.
    let q = h
        .code("third", "alice", &[("scope", "openid offline_access")])
        .await;
    let t = json(h.redeem("third", &q).await).await;
    assert!(t["refresh_token"].is_string(), "{t}");
    assert_eq!(t["scope"], "openid offline_access");
    // Silent requests never get offline access.
    let q = h
        .code(
            "third",
            "alice",
            &[("scope", "openid offline_access"), ("prompt", "none")],
        )
        .await;
    let t = json(h.redeem("third", &q).await).await;
    assert!(t.get("refresh_token").is_none(), "{t}");
    // A first-party client gets it without a page.
    h.client("first", |c| c.skip_consent = true).await;
    let q = h
        .code("first", "alice", &[("scope", "openid offline_access")])
        .await;
    let t = json(h.redeem("first", &q).await).await;
    assert!(t["refresh_token"].is_string());
}

#[tokio::test]
async fn revoked_tokens_fail_introspection_and_userinfo() {
    let h = start().await;
    h.client("app", |c| c.skip_consent = true).await;
    h.client("rs", |c| c.introspect_any_token = true).await;
    h.client("nosy", |_| {}).await;
    let q = h.code("app", "alice", &[]).await;
    let t = json(h.redeem("app", &q).await).await;
    let access = t["access_token"].as_str().unwrap();

    let intro = |token: String| {
        let h = &h;
        async move {
            json(
                h.http
                    .post(h.url("/introspect"))
                    .basic_auth("rs", Some(SECRET))
                    .form(&[("token", token.as_str())])
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let v = intro(access.to_owned()).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["sub"], "alice");
    assert_eq!(v["client_id"], "app");
    assert_eq!(v["scope"], "openid profile email");

    // A client that is neither the owner nor a resource server learns nothing.
    let nosy: serde_json::Value = h
        .http
        .post(h.url("/introspect"))
        .basic_auth("nosy", Some(SECRET))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(nosy, serde_json::json!({"active": false}));
    // Another client cannot revoke it (silently ignored, RFC 7009 §2.1) …
    let r = h
        .http
        .post(h.url("/revoke"))
        .basic_auth("rs", Some(SECRET))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(intro(access.to_owned()).await["active"], true);
    // … its own client can.
    let r = h
        .http
        .post(h.url("/revoke"))
        .basic_auth("app", Some(SECRET))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        intro(access.to_owned()).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(h.userinfo(access).await.status(), 401);
    // Unknown and malformed tokens are simply inactive.
    assert_eq!(
        intro("nope".into()).await,
        serde_json::json!({"active": false})
    );
    // Introspection needs client authentication.
    let r = h
        .http
        .post(h.url("/introspect"))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn userinfo_bearer_rules() {
    let h = start().await;
    h.client("app", |c| c.skip_consent = true).await;
    let q = h.code("app", "alice", &[]).await;
    let t = json(h.redeem("app", &q).await).await;
    let access = t["access_token"].as_str().unwrap();
    // No token: 401 with a bare challenge.
    let r = h.http.get(h.url("/userinfo")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer realm=")
    );
    // Token in the query: refused.
    let r = h
        .http
        .get(h.url("/userinfo"))
        .query(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Form body on POST: accepted.
    let r = h
        .http
        .post(h.url("/userinfo"))
        .form(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Header and body together: refused.
    let r = h
        .http
        .post(h.url("/userinfo"))
        .bearer_auth(access)
        .form(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Expired: refused.
    h.clock.advance(3601);
    assert_eq!(h.userinfo(access).await.status(), 401);
}

#[tokio::test]
async fn signed_userinfo_and_jwt_access_tokens() {
    let h = start().await;
    h.client("app", |c| {
        c.skip_consent = true;
        c.userinfo_signed_response_alg = Some(sesame_core::JwsAlgorithm::ES256);
        c.jwt_access_tokens = true;
    })
    .await;
    let q = h.code("app", "alice", &[]).await;
    let t = json(h.redeem("app", &q).await).await;
    let access = t["access_token"].as_str().unwrap();
    // RFC 9068: typ at+jwt, verifiable with the JWKS.
    let keys = h.jwks().await;
    let at =
        sesame_core::jws::verify(access, &keys, &[sesame_core::JwsAlgorithm::RS256], None).unwrap();
    assert_eq!(at.header.typ.as_deref(), Some("at+jwt"));
    let claims: Value = at.claims().unwrap();
    assert_eq!(claims["client_id"], "app");
    assert_eq!(claims["sub"], "alice");
    let r = h.userinfo(access).await;
    assert_eq!(r.headers()["content-type"], "application/jwt");
    let jwt = r.text().await.unwrap();
    let v =
        sesame_core::jws::verify(&jwt, &keys, &[sesame_core::JwsAlgorithm::ES256], None).unwrap();
    let claims: Value = v.claims().unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], "app");
}

#[tokio::test]
async fn client_credentials_grant() {
    let h = start().await;
    h.client("svc", |c| {
        c.allowed_scopes = Some(sesame_core::Scopes::parse("reports:read").unwrap())
    })
    .await;
    let r = post_token(
        &h,
        "svc",
        &[
            ("grant_type", "client_credentials"),
            ("scope", "reports:read"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let t = json(r).await;
    assert!(t.get("id_token").is_none() && t.get("refresh_token").is_none());
    let r = post_token(
        &h,
        "svc",
        &[("grant_type", "client_credentials"), ("scope", "admin")],
    )
    .await;
    assert_eq!(error(&json(r).await), "invalid_scope");
    let r = post_token(
        &h,
        "svc",
        &[("grant_type", "client_credentials"), ("scope", "openid")],
    )
    .await;
    assert_eq!(error(&json(r).await), "invalid_scope");
}

#[tokio::test]
async fn private_key_jwt_client_authentication() {
    let h = start().await;
    let key = sesame_core::SigningKey::generate(sesame_core::JwsAlgorithm::ES256).unwrap();
    let jwks = sesame_core::JwkSet {
        keys: vec![key.public_jwk().unwrap()],
    };
    h.client("pkj", |c| {
        c.token_endpoint_auth_method = sesame_op::AuthMethod::PrivateKeyJwt;
        c.jwks = Some(jwks);
        c.client_secret_hash = None;
    })
    .await;
    let now = h.clock.now();
    let assertion = |jti: &str, aud: &str| {
        sesame_core::jws::sign(&key, Some("JWT"), &serde_json::json!({"iss": "pkj", "sub": "pkj", "aud": aud, "jti": jti, "exp": now + 60, "iat": now})).unwrap()
    };
    let send = |a: String| {
        let h = &h;
        async move {
            h.http
                .post(h.url("/token"))
                .form(&[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", a.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let token_url = h.url("/token");
    let issuer = h.base.clone();
    assert_eq!(send(assertion("j1", &issuer)).await.status(), 200);
    // Replayed jti.
    assert_eq!(send(assertion("j1", &issuer)).await.status(), 401);
    // Wrong audience.
    assert_eq!(
        send(assertion("j2", "https://elsewhere")).await.status(),
        401
    );
    // Signed by another key.
    let other = sesame_core::SigningKey::generate(sesame_core::JwsAlgorithm::ES256).unwrap();
    let forged = sesame_core::jws::sign(&other, Some("JWT"), &serde_json::json!({"iss": "pkj", "sub": "pkj", "aud": issuer, "jti": "j3", "exp": now + 60})).unwrap();
    assert_eq!(send(forged).await.status(), 401);

    // S15 (draft-ietf-oauth-rfc7523bis): the issuer must be the sole
    // audience; the token endpoint URL only for a legacy client.
    let with_aud = |jti: &str, aud: serde_json::Value| {
        sesame_core::jws::sign(&key, Some("JWT"), &serde_json::json!({"iss": "pkj", "sub": "pkj", "aud": aud, "jti": jti, "exp": now + 60, "iat": now})).unwrap()
    };
    assert_eq!(
        send(with_aud("j4", serde_json::json!([issuer])))
            .await
            .status(),
        200
    );
    let injected = with_aud(
        "j5",
        serde_json::json!(["https://attacker.example", issuer]),
    );
    let r = send(injected).await;
    assert_eq!(r.status(), 401, "another audience beside the issuer");
    assert_eq!(json(r).await["error"], "invalid_client");
    assert_eq!(
        send(assertion("j6", &token_url)).await.status(),
        401,
        "the endpoint URL by default"
    );
    let mut legacy = h
        .store
        .find_client(&sesame_core::ClientId::new("pkj"))
        .await
        .unwrap()
        .unwrap();
    legacy.legacy_assertion_audience = true;
    h.store.save_client(&legacy).await.unwrap();
    assert_eq!(
        send(assertion("j7", &token_url)).await.status(),
        200,
        "with the legacy switch"
    );
    assert_eq!(send(assertion("j8", &issuer)).await.status(), 200);
    let both = with_aud(
        "j9",
        serde_json::json!(["https://attacker.example", token_url]),
    );
    assert_eq!(
        send(both).await.status(),
        401,
        "never beside another audience"
    );
}

#[tokio::test]
async fn resource_indicators_must_be_registered() {
    let h = start().await;
    h.client("svc", |c| {
        c.allowed_scopes = Some(sesame_core::Scopes::parse("read").unwrap());
        c.allowed_resources = vec!["https://api.example/".into()];
    })
    .await;
    let ok = post_token(
        &h,
        "svc",
        &[
            ("grant_type", "client_credentials"),
            ("scope", "read"),
            ("resource", "https://api.example/"),
        ],
    )
    .await;
    assert_eq!(ok.status(), 200);
    for bad in [
        "https://payments.example/",
        "not a uri",
        "https://api.example/#x",
    ] {
        let r = post_token(
            &h,
            "svc",
            &[("grant_type", "client_credentials"), ("resource", bad)],
        )
        .await;
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(error(&json(r).await), "invalid_target");
    }
}

/// A first-party client (no consent page) gets the claims it asks for by
/// name, as it gets its scopes; claims the provider does not know are not
/// invented. Third-party clients: authorize.rs, where each claim is consented.
#[tokio::test]
async fn the_claims_parameter_releases_known_claims_to_a_first_party_client() {
    let h = start().await;
    h.client("app", |c| c.skip_consent = true).await;
    let q = h
        .code("app", "alice", &[("scope", "openid"), ("claims", r#"{"userinfo":{"email":null,"name":null,"groups":null,"shoe_size":null},"id_token":{"email":null}}"#)])
        .await;
    let t = json(h.redeem("app", &q).await).await;
    let info = json(h.userinfo(t["access_token"].as_str().unwrap()).await).await;
    assert_eq!(
        info,
        serde_json::json!({"sub": "alice", "email": "alice@example.com", "name": "User alice", "groups": ["staff"]})
    );
    let id = h
        .validate("app", t["id_token"].as_str().unwrap(), Some("nonce-123"))
        .await;
    assert_eq!(
        id.claims.profile.email.as_deref(),
        Some("alice@example.com")
    );
}

#[tokio::test]
async fn refresh_tokens_stop_at_the_absolute_lifetime() {
    let h = start().await;
    h.client("app", |c| c.skip_consent = true).await;
    let q = h
        .code("app", "alice", &[("scope", "openid offline_access")])
        .await;
    let t = json(h.redeem("app", &q).await).await;
    let mut refresh = t["refresh_token"].as_str().unwrap().to_owned();
    // Rotating every 20 days keeps each token fresh, but not the grant.
    for _ in 0..8 {
        h.clock.advance(20 * 86_400);
        let r = json(
            post_token(
                &h,
                "app",
                &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            )
            .await,
        )
        .await;
        refresh = r["refresh_token"].as_str().unwrap().to_owned();
    }
    h.clock.advance(21 * 86_400);
    let r = post_token(
        &h,
        "app",
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(error(&json(r).await), "invalid_grant");
}

/// REVIEW S12: introspection answers `active: false` for the tokens of a
/// user the claims source no longer knows, as userinfo refuses them.
#[tokio::test]
async fn tokens_of_a_removed_user_are_inactive_at_introspection() {
    let h = start().await;
    h.client("app", |c| c.skip_consent = true).await;
    let q = h
        .code("app", "gone-s12", &[("scope", "openid offline_access")])
        .await;
    let t = json(h.redeem("app", &q).await).await;
    let v = json(
        h.http
            .post(h.url("/introspect"))
            .basic_auth("app", Some(SECRET))
            .form(&[("token", t["access_token"].as_str().unwrap())])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["active"], true, "before the removal");
    crate::support::REMOVED
        .lock()
        .unwrap()
        .push("gone-s12".into());
    assert_eq!(
        h.userinfo(t["access_token"].as_str().unwrap())
            .await
            .status(),
        401
    );
    for name in ["access_token", "refresh_token"] {
        let Some(token) = t[name].as_str() else {
            continue;
        };
        let v = json(
            h.http
                .post(h.url("/introspect"))
                .basic_auth("app", Some(SECRET))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(v, serde_json::json!({"active": false}), "{name}");
    }
}
