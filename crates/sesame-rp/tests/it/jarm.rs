//! JARM (JWT Secured Authorization Response Mode) against Sesame's own
//! provider: sign-in in `jwt` and `form_post.jwt`, and each check of the
//! response JWT refusing a forged one (re-signed with the provider's own
//! key, so that only the check under test can catch it).

use serde_json::{Map, Value, json};
use sesame_core::{Clock, Issuer, JwsAlgorithm, SigningKey, SystemClock, UnverifiedJws, jws};
use sesame_rp::OidcClient;

use crate::support::*;

async fn setup(
    edit: impl FnOnce(sesame_rp::OidcClientBuilder) -> sesame_rp::OidcClientBuilder,
) -> (Op, String, reqwest::Client) {
    let op = start_op().await;
    let (listener, rp) = rp_listener().await;
    op.register("rp", &rp, |_| {}).await;
    let b = OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
        .with_client_secret(SECRET)
        .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
        .with_scopes("openid email")
        .unwrap();
    let oidc = edit(b).build().await.unwrap();
    rp_app(oidc, listener).await;
    (op, rp, browser())
}

#[tokio::test]
async fn signs_in_with_jwt_and_form_post_jwt_responses() {
    let (op, rp, b) = setup(|c| c.with_jarm()).await;
    let (r, seen) = follow(&b, &format!("{rp}/account"), "jarmo").await;
    assert_eq!(r.text().await.unwrap(), "hello jarmo", "{seen:?}");
    let authorize = seen
        .iter()
        .find(|u| u.starts_with(&format!("{}/authorize?", op.base)))
        .unwrap();
    assert!(authorize.contains("response_mode=jwt"), "{authorize}");
    let callback = seen
        .iter()
        .find(|u| u.starts_with(&format!("{rp}/callback?")))
        .unwrap();
    assert!(
        callback.contains("response=") && !callback.contains("code="),
        "{callback}"
    );

    let (op, rp, b) = setup(|c| c.with_jarm().with_form_post()).await;
    let (status, body, seen) = follow_forms(&b, &format!("{rp}/account"), "jarmo").await;
    assert_eq!((status, body.as_str()), (200, "hello jarmo"), "{seen:?}");
    let authorize = seen
        .iter()
        .find(|u| u.starts_with(&format!("{}/authorize?", op.base)))
        .unwrap();
    assert!(
        authorize.contains("response_mode=form_post.jwt"),
        "{authorize}"
    );
    assert!(
        seen.iter()
            .any(|u| u.starts_with(&format!("POST {rp}/callback")))
    );
}

/// The provider's active RS256 key, as the provider itself signs with it.
async fn op_key(op: &Op) -> SigningKey {
    let stored = op.store.list_keys().await.unwrap();
    let k = stored
        .iter()
        .find(|k| k.alg == JwsAlgorithm::RS256 && k.state == sesame_op::model::KeyState::Active)
        .unwrap();
    SigningKey::from_pkcs8_pem(JwsAlgorithm::RS256, &k.private_pem).unwrap()
}

/// What happened to a forged response: the callback's status, and /me's.
async fn deliver(b: &reqwest::Client, rp: &str, query: &[(String, String)]) -> (u16, u16) {
    let r = b
        .get(format!("{rp}/callback"))
        .query(query)
        .send()
        .await
        .unwrap();
    let me = b.get(format!("{rp}/me")).send().await.unwrap();
    (r.status().as_u16(), me.status().as_u16())
}

enum Forgery {
    /// Re-signed with the provider's key, unchanged: must sign in.
    None,
    /// Signed with another key under the provider's `kid`.
    Signature,
    Claim(&'static str, Value),
    /// The response's parameters, plain, without the JWT.
    Plain,
}

/// Runs a real login up to the callback, then delivers the response JWT
/// forged as `forgery` says.
async fn forged(forgery: Forgery) -> (u16, u16) {
    let (op, rp, b) = setup(|c| c.with_jarm()).await;
    let to = until_callback(
        &b,
        &format!("{rp}/login?next=/"),
        "mallory",
        &format!("{rp}/callback"),
    )
    .await;
    let url = url::Url::parse(&to).unwrap();
    let (_, token) = url.query_pairs().find(|(k, _)| k == "response").unwrap();
    let payload = UnverifiedJws::parse(&token)
        .unwrap()
        .insecure_payload()
        .unwrap();
    let mut claims: Map<String, Value> = serde_json::from_slice(&payload).unwrap();
    let key = op_key(&op).await;
    let token = match forgery {
        Forgery::None => jws::sign(&key, Some("JWT"), &claims).unwrap(),
        Forgery::Signature => {
            let other = SigningKey::generate(JwsAlgorithm::RS256).unwrap();
            jws::sign_with_header(&other, &json!({"kid": key.kid(), "typ": "JWT"}), &claims)
                .unwrap()
        }
        Forgery::Claim(name, value) => {
            claims.insert(name.into(), value);
            jws::sign(&key, Some("JWT"), &claims).unwrap()
        }
        Forgery::Plain => {
            let plain: Vec<(String, String)> = ["code", "state", "iss"]
                .iter()
                .map(|k| ((*k).to_owned(), claims[*k].as_str().unwrap().to_owned()))
                .collect();
            return deliver(&b, &rp, &plain).await;
        }
    };
    deliver(&b, &rp, &[("response".into(), token)]).await
}

#[tokio::test]
async fn a_response_re_signed_with_the_providers_key_is_accepted() {
    // The control for the forgeries below: the re-signing itself is sound.
    assert_eq!(forged(Forgery::None).await, (303, 200));
}

#[tokio::test]
async fn a_response_with_a_bad_signature_is_refused() {
    assert_eq!(forged(Forgery::Signature).await, (400, 401));
}

#[tokio::test]
async fn a_response_from_another_issuer_is_refused() {
    let evil = Forgery::Claim("iss", json!("https://evil.example"));
    assert_eq!(forged(evil).await, (400, 401));
}

#[tokio::test]
async fn a_response_for_another_client_is_refused() {
    assert_eq!(
        forged(Forgery::Claim("aud", json!("other"))).await,
        (400, 401)
    );
    let list = Forgery::Claim("aud", json!(["other", "another"]));
    assert_eq!(forged(list).await, (400, 401));
}

#[tokio::test]
async fn an_expired_response_is_refused() {
    let past = SystemClock.now() - 120;
    assert_eq!(forged(Forgery::Claim("exp", json!(past))).await, (400, 401));
}

#[tokio::test]
async fn a_plain_response_is_refused_when_jarm_was_asked_for() {
    assert_eq!(forged(Forgery::Plain).await, (400, 401));
}

#[tokio::test]
async fn an_algorithm_outside_the_registered_one_is_refused() {
    // The provider signs with RS256; the client expects ES256 only.
    let op = start_op().await;
    let (listener, rp) = rp_listener().await;
    op.register("rp", &rp, |_| {}).await;
    let oidc = OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
        .with_client_secret(SECRET)
        .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
        .with_authorization_signed_response_alg(JwsAlgorithm::ES256)
        .build()
        .await
        .unwrap();
    rp_app(oidc, listener).await;
    let b = browser();
    let (r, _) = follow(&b, &format!("{rp}/account"), "ann").await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        b.get(format!("{rp}/me")).send().await.unwrap().status(),
        401
    );
    // HMAC is refused at build time.
    let err = OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
        .with_client_secret(SECRET)
        .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
        .with_authorization_signed_response_alg(JwsAlgorithm::HS256)
        .build()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("authorization_signed_response_alg"),
        "{err}"
    );
}
