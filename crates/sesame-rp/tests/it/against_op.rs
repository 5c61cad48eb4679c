//! The relying party against Sesame's own provider, over real HTTP.

use sesame_core::Issuer;
use sesame_rp::{ClientAuth, OidcClient};

use crate::support::*;

async fn setup(
    auth: ClientAuth,
    edit: impl FnOnce(&mut sesame_op::Client),
) -> (Op, String, reqwest::Client) {
    let op = start_op().await;
    let (listener, rp) = rp_listener().await;
    op.register("rp", &rp, |c| {
        c.token_endpoint_auth_method = match auth {
            ClientAuth::ClientSecretPost => sesame_op::AuthMethod::ClientSecretPost,
            ClientAuth::None => sesame_op::AuthMethod::None,
            _ => sesame_op::AuthMethod::ClientSecretBasic,
        };
        edit(c);
    })
    .await;
    let mut b = OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
        .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
        .with_post_logout_redirect_uri(format!("{rp}/"))
        .with_scopes("openid profile email")
        .unwrap()
        .with_auth_method(auth);
    if auth != ClientAuth::None {
        b = b.with_client_secret(SECRET);
    }
    let oidc = b.build().await.unwrap();
    rp_app(oidc, listener).await;
    (op, rp, browser())
}

#[tokio::test]
async fn code_flow_with_each_client_authentication_method() {
    for auth in [
        ClientAuth::ClientSecretBasic,
        ClientAuth::ClientSecretPost,
        ClientAuth::None,
    ] {
        let (_op, rp, b) = setup(auth, |_| {}).await;
        let (r, seen) = follow(&b, &format!("{rp}/account"), "alice").await;
        assert_eq!(r.status(), 200, "{auth:?} {seen:?}");
        assert_eq!(r.text().await.unwrap(), "hello alice");
        assert!(
            seen[1].starts_with(&format!("{rp}/login?next=%2Faccount")),
            "{seen:?}"
        );
        let me: serde_json::Value = b
            .get(format!("{rp}/me"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["sub"], "alice");
        assert_eq!(
            me["claims"]["email"], "alice@example.com",
            "userinfo merged"
        );
    }
}

#[tokio::test]
async fn logout_is_post_with_csrf_and_goes_through_the_provider() {
    let (op, rp, b) = setup(ClientAuth::ClientSecretBasic, |_| {}).await;
    follow(&b, &format!("{rp}/account"), "bob").await;
    // GET logout does nothing (no route), a POST without the token is refused.
    let r = b.get(format!("{rp}/logout")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let r = b
        .post(format!("{rp}/logout"))
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        b.get(format!("{rp}/me")).send().await.unwrap().status(),
        200,
        "still signed in"
    );

    let csrf = b
        .get(format!("{rp}/csrf"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = b
        .post(format!("{rp}/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with(&format!("{}/end_session?", op.base)), "{to}");
    assert!(to.contains("id_token_hint="));
    // The provider verifies the hint and sends the browser back with the state.
    let state = url::Url::parse(&to)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let (_r, seen) = follow(&b, &to, "bob").await;
    assert_eq!(seen.last().unwrap(), &format!("{rp}/?state={state}"));
    assert_eq!(
        b.get(format!("{rp}/me")).send().await.unwrap().status(),
        401
    );
    // And the provider session is gone too: the next login asks for credentials.
    let (_, seen) = follow(&b, &format!("{rp}/account"), "bob").await;
    assert!(seen.iter().any(|u| u.contains("/op-login")));
}

#[tokio::test]
async fn back_channel_logout_ends_the_rp_session() {
    let (op, rp, b) = setup(ClientAuth::ClientSecretBasic, |_| {}).await;
    follow(&b, &format!("{rp}/account"), "carol").await;
    assert_eq!(
        b.get(format!("{rp}/me")).send().await.unwrap().status(),
        200
    );
    // Logout at the provider directly (another RP, say): confirm page, then the back channel.
    let r = b
        .get(format!("{}/end_session", op.base))
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    let field = |name: &str| {
        let m = format!("name=\"{name}\" value=\"");
        let s = html.find(&m).unwrap() + m.len();
        html[s..s + html[s..].find('"').unwrap()].to_owned()
    };
    let r = b
        .post(format!("{}/end_session", op.base))
        .form(&[
            ("interaction", field("interaction")),
            ("csrf_token", field("csrf_token")),
            ("logout", "1".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Delivery is in the background; the RP session ends when it lands.
    for _ in 0..100 {
        if b.get(format!("{rp}/me")).send().await.unwrap().status() == 401 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the back-channel logout did not end the RP session");
}

#[tokio::test]
async fn protected_routes_answer_api_calls_with_401_and_never_redirect_posts() {
    let (_op, rp, b) = setup(ClientAuth::ClientSecretBasic, |_| {}).await;
    let r = b.post(format!("{rp}/api/data")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = b
        .get(format!("{rp}/account"))
        .header("x-requested-with", "XMLHttpRequest")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = b
        .get(format!("{rp}/account"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = b.get(format!("{rp}/account")).send().await.unwrap();
    assert_eq!(r.status(), 303);
}

#[tokio::test]
async fn parallel_tabs_each_complete_and_state_is_single_use() {
    let (_op, rp, b) = setup(ClientAuth::ClientSecretBasic, |_| {}).await;
    // Two logins started in two tabs before either finishes.
    let start = |next: &'static str| {
        let b = b.clone();
        let rp = rp.clone();
        async move {
            let r = b
                .get(format!("{rp}/login?next={next}"))
                .send()
                .await
                .unwrap();
            r.headers()["location"].to_str().unwrap().to_owned()
        }
    };
    let first = start("/one").await;
    let second = start("/two").await;
    let (r2, seen2) = follow(&b, &second, "dave").await;
    let (r1, seen1) = follow(&b, &first, "dave").await;
    assert!(
        seen2.last().unwrap().ends_with("/two"),
        "{seen2:?} {}",
        r2.status()
    );
    assert!(
        seen1.last().unwrap().ends_with("/one"),
        "{seen1:?} {}",
        r1.status()
    );
    // Replaying a callback URL (same state) fails.
    let callback = seen1
        .iter()
        .find(|u| u.contains("/callback?"))
        .unwrap()
        .clone();
    let r = b.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 400);
    // A state from another browser's session is unknown here: the victim's
    // browser completing a flow the attacker started is refused.
    let other = browser();
    let started = other
        .get(format!("{rp}/login?next=/"))
        .send()
        .await
        .unwrap();
    let auth_url = started.headers()["location"].to_str().unwrap().to_owned();
    let (r, seen) = follow(&b, &auth_url, "dave").await;
    assert!(seen.last().unwrap().contains("/callback?"), "{seen:?}");
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn open_redirects_through_next_are_refused() {
    let (_op, rp, b) = setup(ClientAuth::ClientSecretBasic, |_| {}).await;
    for next in [
        "//evil.test",
        "/\\evil.test",
        "https://evil.test",
        "javascript:alert(1)",
        "/%2F%2Fevil.test",
    ] {
        let r = b
            .get(format!("{rp}/login"))
            .query(&[("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{next}");
        assert!(r.headers().get("location").is_none());
    }
}

#[tokio::test]
async fn a_callback_with_an_error_consumes_the_state_and_signs_nobody_in() {
    let (op, rp, b) = setup(ClientAuth::ClientSecretBasic, |_| {}).await;
    let r = b.get(format!("{rp}/login?next=/")).send().await.unwrap();
    let auth_url = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let state = auth_url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let r = b
        .get(format!("{rp}/callback"))
        .query(&[
            ("error", "access_denied"),
            ("state", state.as_str()),
            ("iss", op.base.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The state is spent: a code arriving later for it is refused.
    let r = b
        .get(format!("{rp}/callback"))
        .query(&[("code", "x"), ("state", state.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        b.get(format!("{rp}/me")).send().await.unwrap().status(),
        401
    );
}

#[tokio::test]
async fn hybrid_and_implicit_flows_with_form_post() {
    for (response_type, registered) in [
        (sesame_rp::ResponseType::CodeIdToken, "code id_token"),
        (
            sesame_rp::ResponseType::CodeIdTokenToken,
            "code id_token token",
        ),
        (sesame_rp::ResponseType::IdTokenToken, "id_token token"),
    ] {
        let op = start_op().await;
        let (listener, rp) = rp_listener().await;
        op.register("rp", &rp, |c| {
            c.response_types = vec!["code".into(), registered.into()];
        })
        .await;
        let oidc = OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
            .with_client_secret(SECRET)
            .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
            .with_scopes("openid email")
            .unwrap()
            .with_response_type(response_type)
            .build()
            .await
            .unwrap();
        rp_app(oidc, listener).await;
        let b = browser();
        let (status, body, seen) = follow_forms(&b, &format!("{rp}/account"), "frank").await;
        assert_eq!(
            (status, body.as_str()),
            (200, "hello frank"),
            "{registered}: {seen:?}"
        );
        // The provider's form_post page posted the response to the callback.
        assert!(
            seen.iter()
                .any(|u| u.starts_with(&format!("POST {rp}/callback"))),
            "{registered}: {seen:?}"
        );
        let authorize = seen
            .iter()
            .find(|u| u.starts_with(&format!("{}/authorize?", op.base)))
            .unwrap();
        assert!(authorize.contains("response_mode=form_post"), "{authorize}");
        let me: serde_json::Value = b
            .get(format!("{rp}/me"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["sub"], "frank");
        assert_eq!(
            me["claims"]["email"], "frank@example.com",
            "{registered}: userinfo merged"
        );
    }
}

#[tokio::test]
async fn a_response_type_the_provider_does_not_offer_is_a_build_error() {
    let op = start_op().await;
    let err = OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
        .with_client_secret(SECRET)
        .with_redirect_uri("http://127.0.0.1:1/callback".parse().unwrap())
        .with_response_type(sesame_rp::ResponseType::CodeIdToken)
        .with_metadata(sesame_core::ProviderMetadata {
            issuer: op.base.clone(),
            response_types_supported: Some(vec!["code".into()]),
            ..Default::default()
        })
        .build()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("response_type=code id_token"),
        "{err}"
    );
}

/// Registers a client with `register`, builds the RP with `configure`, and
/// logs in; returns the final status and whether a session exists.
async fn jwt_login(
    register: impl FnOnce(&mut sesame_op::Client),
    configure: impl FnOnce(sesame_rp::OidcClientBuilder) -> sesame_rp::OidcClientBuilder,
) -> (u16, bool) {
    let (status, signed_in, _) = jwt_login_body(register, configure).await;
    (status, signed_in)
}

async fn jwt_login_body(
    register: impl FnOnce(&mut sesame_op::Client),
    configure: impl FnOnce(sesame_rp::OidcClientBuilder) -> sesame_rp::OidcClientBuilder,
) -> (u16, bool, String) {
    let op = start_op().await;
    let (listener, rp) = rp_listener().await;
    op.register("rp", &rp, register).await;
    let builder = OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
        .with_redirect_uri(format!("{rp}/callback").parse().unwrap());
    rp_app(configure(builder).build().await.unwrap(), listener).await;
    let b = browser();
    let (r, _) = follow(&b, &format!("{rp}/account"), "grace").await;
    let status = r.status().as_u16();
    let body = r.text().await.unwrap_or_default();
    let signed_in = b.get(format!("{rp}/me")).send().await.unwrap().status() == 200;
    (status, signed_in, body)
}

#[tokio::test]
async fn client_secret_jwt_authenticates_at_the_token_endpoint() {
    let register = |c: &mut sesame_op::Client| {
        c.token_endpoint_auth_method = sesame_op::AuthMethod::ClientSecretJwt;
        c.client_secret_jwt_key = Some(sesame_core::ClientSecret::new(SECRET));
        // sesame-rp's assertions name the endpoint they are sent to (what
        // Entra ID and Okta require); sesame-op takes that only from a
        // client with the legacy switch (S15, draft-ietf-oauth-rfc7523bis).
        c.legacy_assertion_audience = true;
    };
    let ok = jwt_login(register, |b| {
        b.with_auth_method(ClientAuth::ClientSecretJwt)
            .with_client_secret(SECRET)
    })
    .await;
    assert_eq!(ok, (200, true));
    // An assertion keyed with another secret is refused: no session.
    let (status, signed_in, body) = jwt_login_body(register, |b| {
        b.with_auth_method(ClientAuth::ClientSecretJwt)
            .with_client_secret("another-secret-another-secret-0123456789")
    })
    .await;
    assert_eq!((status, signed_in), (502, false));
    // What the provider said goes to the log, not to the browser.
    assert!(body.contains("<code>provider_error</code>"), "{body}");
    assert!(!body.contains("invalid_client"), "{body}");
}

#[tokio::test]
async fn private_key_jwt_authenticates_at_the_token_endpoint() {
    use sesame_core::{JwkSet, JwsAlgorithm, SigningKey};
    for alg in [JwsAlgorithm::RS256, JwsAlgorithm::ES256] {
        let key = SigningKey::generate(alg).unwrap();
        let jwks = JwkSet {
            keys: vec![key.public_jwk().unwrap()],
        };
        let register = move |c: &mut sesame_op::Client| {
            c.token_endpoint_auth_method = sesame_op::AuthMethod::PrivateKeyJwt;
            c.jwks = Some(jwks);
            c.client_secret_hash = None;
            c.legacy_assertion_audience = true; // see above (S15)
        };
        let ok = jwt_login(register.clone(), |b| b.with_private_key(key)).await;
        assert_eq!(ok, (200, true), "{alg:?}");
        // Signed with a key the provider does not have for this client.
        let other = SigningKey::generate(alg).unwrap();
        let wrong = jwt_login(register, |b| b.with_private_key(other)).await;
        assert_eq!(wrong, (502, false), "{alg:?}");
    }
}

/// Signed UserInfo (OIDC Core §5.3.2) from sesame-op: a client registered
/// with `userinfo_signed_response_alg` RS256 gets a JWT the relying party
/// verifies (`iss`, `aud`, `typ`, `sub`); one expecting ES256 refuses it.
#[tokio::test]
async fn signed_userinfo_from_sesame_op_is_verified() {
    for (expected, status) in [
        (sesame_core::JwsAlgorithm::RS256, 200),
        (sesame_core::JwsAlgorithm::ES256, 400),
    ] {
        let op = start_op().await;
        let (listener, rp) = rp_listener().await;
        op.register("rp", &rp, |c| {
            c.userinfo_signed_response_alg = Some(sesame_core::JwsAlgorithm::RS256)
        })
        .await;
        let oidc = OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
            .with_client_secret(SECRET)
            .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
            .with_scopes("openid email")
            .unwrap()
            .with_userinfo_signing_alg(expected)
            .build()
            .await
            .unwrap();
        rp_app(oidc, listener).await;
        let b = browser();
        let (r, seen) = follow(&b, &format!("{rp}/account"), "alice").await;
        assert_eq!(r.status(), status, "{expected:?} {seen:?}");
        if status == 200 {
            let me: serde_json::Value = b
                .get(format!("{rp}/me"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(me["claims"]["email"], "alice@example.com");
        }
        assert_eq!(op.hits.of("/userinfo"), 1);
    }
}
