//! The FAPI 2.0 client profile (`with_profile(SecurityProfile::Fapi2)`)
//! against a sesame-op client held to the provider's FAPI 2.0 profile:
//! pushed requests, PKCE, `private_key_jwt` ES256, DPoP-bound tokens, ES256
//! ID tokens, UserInfo and refreshes without rotation; and what `build()`
//! refuses.

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use serde_json::{Value, json};
use sesame_core::{Issuer, JwkSet, JwsAlgorithm, ProviderMetadata, SecurityProfile, SigningKey};
use sesame_rp::{ApiToken, OidcClient, OidcClientBuilder, RequireLogin, SessionRefresh};

use crate::support::*;

/// Registers `bank` at `op` under the profile, authenticating with `key`.
async fn register(op: &Op, rp: &str, key: &SigningKey) {
    let jwks = JwkSet {
        keys: vec![key.public_jwk().unwrap()],
    };
    op.register("bank", rp, |c| {
        c.profile = Some(SecurityProfile::Fapi2);
        c.token_endpoint_auth_method = sesame_op::AuthMethod::PrivateKeyJwt;
        c.client_secret_hash = None;
        c.jwks = Some(jwks);
        c.id_token_signed_response_alg = JwsAlgorithm::ES256;
    })
    .await;
}

fn builder(op: &Op, rp: &str, key: SigningKey) -> OidcClientBuilder {
    OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "bank")
        .with_private_key(key)
        .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
        .with_scopes("openid profile offline_access")
        .unwrap()
        .with_profile(SecurityProfile::Fapi2)
}

/// `/token`: the session's access token and whether it is DPoP-bound;
/// `/id-token`; `/call`: UserInfo read with the session's token.
fn app(oidc: OidcClient, op_base: &str) -> Router {
    let userinfo = format!("{op_base}/userinfo");
    Router::new()
        .route(
            "/token",
            get(|api: ApiToken| async move {
                axum::Json(json!({"dpop": api.is_dpop(), "token": api.access_token().secret()}))
            }),
        )
        .route(
            "/id-token",
            get(|t: sesame_rp::IdToken| async move { t.0.secret().to_owned() }),
        )
        .route(
            "/call",
            get(move |api: ApiToken| async move {
                let r = api
                    .send(reqwest::Client::new().get(&userinfo), "GET", &userinfo)
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                axum::Json(json!({"status": status, "body": body}))
            }),
        )
        .layer(RequireLogin::new(oidc.clone()))
        .layer(SessionRefresh::new(oidc.clone()))
        .merge(oidc.router())
        .layer(axum::Extension(oidc))
        .layer(sesame_rp::session_layer(false))
}

async fn get_json(b: &reqwest::Client, url: &str) -> Value {
    b.get(url).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_fapi2_sign_in_then_userinfo_and_refreshes_that_keep_the_refresh_token() {
    // Access tokens live 30 s: every request after the login refreshes.
    let op = start_op_with(|s| s.access_token_ttl = 30).await;
    let (listener, rp) = rp_listener().await;
    let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    register(&op, &rp, &key).await;
    let oidc = builder(&op, &rp, key).build().await.unwrap();
    assert!(oidc.uses_dpop(), "the profile turns DPoP on");
    let app = app(oidc, &op.base);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let b = browser();
    let (r, seen) = follow(&b, &format!("{rp}/id-token"), "fay").await;
    assert_eq!(r.status(), 200, "{seen:?}");
    // Pushed: the browser carried only client_id and request_uri.
    let authorize = seen
        .iter()
        .find(|u| u.starts_with(&format!("{}/authorize?", op.base)))
        .unwrap();
    let url = url::Url::parse(authorize).unwrap();
    let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(names, ["client_id", "request_uri"], "{url}");
    assert_eq!(op.hits.of("/par"), 1);
    // The ID token is ES256.
    let id_token = r.text().await.unwrap();
    let header = id_token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256", "{header}");
    // The login read UserInfo (with the DPoP scheme and a proof).
    assert!(op.hits.of("/userinfo") >= 1);

    // Refreshed on each request, always with the first refresh token (the
    // provider does not rotate it under the profile and sends none back): no
    // new login, no new pushed request.
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let t = get_json(&b, &format!("{rp}/token")).await;
        assert_eq!(t["dpop"], true, "{t}");
        tokens.push(t["token"].as_str().unwrap().to_owned());
    }
    eprintln!(
        "token hits {} par {}",
        op.hits.of("POST /token"),
        op.hits.of("/par")
    );
    tokens.dedup();
    assert_eq!(tokens.len(), 3, "each request refreshed: {tokens:?}");
    assert_eq!(op.hits.of("/par"), 1, "no re-authentication");
    assert!(op.hits.of("POST /token") >= 4, "code + 3 refreshes");

    let call = get_json(&b, &format!("{rp}/call")).await;
    assert_eq!(call["status"], 200, "{call}");
    assert_eq!(call["body"]["sub"], "fay");
    assert_eq!(call["body"]["name"], "User fay");
    // The token is bound to the app's DPoP key: as a Bearer token it is refused.
    let bearer = reqwest::Client::new()
        .get(format!("{}/userinfo", op.base))
        .bearer_auth(tokens.last().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 401);
}

#[tokio::test]
async fn under_the_profile_the_authorization_response_must_carry_iss() {
    let op = start_op().await;
    let (listener, rp) = rp_listener().await;
    let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    register(&op, &rp, &key).await;
    // The provider's metadata without authorization_response_iss_parameter_supported:
    // only the profile asks for `iss`.
    let bytes = reqwest::get(format!("{}/.well-known/openid-configuration", op.base))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut metadata = ProviderMetadata::from_json(&bytes).unwrap();
    metadata.authorization_response_iss_parameter_supported = None;
    let oidc = builder(&op, &rp, key)
        .with_metadata(metadata)
        .build()
        .await
        .unwrap();
    rp_app(oidc, listener).await;
    let b = browser();
    let callback = until_callback(
        &b,
        &format!("{rp}/account"),
        "ivy",
        &format!("{rp}/callback"),
    )
    .await;
    let mut url = url::Url::parse(&callback).unwrap();
    assert!(url.query_pairs().any(|(k, _)| k == "iss"), "{url}");
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "iss")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(kept);
    let r = b.get(url.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(body.contains("<code>invalid_token</code>"), "{body}");
    let me = b.get(format!("{rp}/me")).send().await.unwrap();
    assert_eq!(me.status(), 401);
}

#[tokio::test]
async fn the_profile_refuses_at_build_what_it_forbids() {
    let op = start_op().await;
    let rp = "http://127.0.0.1:1";
    let es256 = || SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    let without_par = ProviderMetadata {
        issuer: op.base.clone(),
        authorization_endpoint: Some(format!("{}/authorize", op.base)),
        token_endpoint: Some(format!("{}/token", op.base)),
        jwks_uri: Some(format!("{}/jwks", op.base)),
        ..Default::default()
    };
    type Edit = Box<dyn FnOnce(OidcClientBuilder) -> OidcClientBuilder>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "a client secret",
            Box::new(|b| b.with_client_secret(SECRET)),
            "private_key_jwt (with_private_key): remove the client secret",
        ),
        (
            "another method",
            Box::new(|b| b.with_auth_method(sesame_rp::ClientAuth::ClientSecretBasic)),
            "needs private_key_jwt: with_private_key with a PS256, ES256, EdDSA key",
        ),
        (
            "an RS256 key",
            Box::new(|b| b.with_private_key(SigningKey::generate(JwsAlgorithm::RS256).unwrap())),
            "allows PS256, ES256, EdDSA only, not RS256 (the with_private_key key)",
        ),
        (
            "RS256 ID tokens",
            Box::new(|b| b.with_algorithms([JwsAlgorithm::ES256, JwsAlgorithm::RS256])),
            "not RS256 (with_algorithms, for ID tokens)",
        ),
        (
            "HS256 ID tokens",
            Box::new(|b| b.with_hs256_id_tokens()),
            "not HS256 (with_hs256_id_tokens)",
        ),
        (
            "RS256 JARM",
            Box::new(|b| b.with_authorization_signed_response_alg(JwsAlgorithm::RS256)),
            "not RS256 (with_authorization_signed_response_alg)",
        ),
        (
            "an RS256 request object key",
            Box::new(|b| {
                b.with_request_object_key(SigningKey::generate(JwsAlgorithm::RS256).unwrap())
            }),
            "not RS256 (the request object key)",
        ),
        (
            "a hybrid response type",
            Box::new(|b| b.with_response_type(sesame_rp::ResponseType::CodeIdToken)),
            "allows response_type=code only, not code id_token",
        ),
        (
            "a provider without PAR",
            Box::new(move |b| b.with_metadata(without_par)),
            "the FAPI 2.0 profile pushes every authorization request, but the provider has no valid pushed_authorization_request_endpoint",
        ),
    ];
    for (what, edit, expected) in cases {
        let err = edit(builder(&op, rp, es256()))
            .build()
            .await
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{what}: {err}");
    }
    // The control: the same builder with nothing forbidden builds.
    let oidc = builder(&op, rp, es256()).build().await.unwrap();
    assert!(oidc.uses_dpop());
}
