//! Request objects (OIDC Core §6) against sesame-op, which verifies them:
//! signed by value, signed by reference (served once by the RP), unsigned;
//! and the settings refused at build.

use axum::http::header;
use sesame_core::{Issuer, JwkSet, JwsAlgorithm, ProviderMetadata, SigningKey};
use sesame_rp::{OidcClient, RequestObject};

use crate::support::*;

/// A signed-in check: `/me` answers the subject.
async fn signed_in(b: &reqwest::Client, rp: &str) -> serde_json::Value {
    let r = b.get(format!("{rp}/me")).send().await.unwrap();
    assert_eq!(r.status(), 200, "signed in");
    r.json().await.unwrap()
}

/// The RP with `mode`, its key registered at `op` (with `alg`).
async fn rp(op: &Op, mode: RequestObject, key: Option<SigningKey>, alg: &str) -> String {
    let (listener, rp) = rp_listener().await;
    let jwks = key.as_ref().map(|k| JwkSet {
        keys: vec![k.public_jwk().unwrap()],
    });
    let alg = alg.to_owned();
    op.register("rp", &rp, move |c| {
        c.jwks = jwks;
        c.request_object_signing_alg = Some(alg);
    })
    .await;
    let mut builder = OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
        .with_client_secret(SECRET)
        .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
        .with_request_object(mode);
    if let Some(k) = key {
        builder = builder.with_request_object_key(k);
    }
    rp_app(builder.build().await.unwrap(), listener).await;
    rp
}

/// The query of the authorization request `/login` redirects to.
async fn authorization_request(b: &reqwest::Client, rp: &str) -> (String, Vec<(String, String)>) {
    let r = b.get(format!("{rp}/login")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let url = r.headers()[header::LOCATION].to_str().unwrap().to_owned();
    let pairs = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    (url, pairs)
}

fn names(pairs: &[(String, String)]) -> Vec<&str> {
    let mut n: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    n.sort_unstable();
    n
}

#[tokio::test]
async fn a_signed_request_object_by_value_signs_in() {
    let op = start_op().await;
    let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    let rp = rp(&op, RequestObject::Signed, Some(key), "ES256").await;
    let b = browser();
    let (url, pairs) = authorization_request(&b, &rp).await;
    assert_eq!(
        names(&pairs),
        [
            "client_id",
            "redirect_uri",
            "request",
            "response_type",
            "scope"
        ],
        "state, nonce and PKCE only inside the signed object"
    );
    let (r, seen) = follow(&b, &url, "rosa").await;
    assert!(r.status().is_success(), "{seen:?}");
    assert_eq!(signed_in(&b, &rp).await["sub"], "rosa");
}

#[tokio::test]
async fn a_request_object_by_reference_is_served_once() {
    let op = start_op().await;
    let key = SigningKey::generate(JwsAlgorithm::RS256).unwrap();
    let jwk = key.public_jwk().unwrap();
    let rp = rp(&op, RequestObject::SignedByReference, Some(key), "RS256").await;
    let b = browser();
    let (url, pairs) = authorization_request(&b, &rp).await;
    assert_eq!(
        names(&pairs),
        [
            "client_id",
            "redirect_uri",
            "request_uri",
            "response_type",
            "scope"
        ]
    );
    let uri = pairs
        .iter()
        .find(|(k, _)| k == "request_uri")
        .unwrap()
        .1
        .clone();
    assert!(uri.starts_with(&format!("{rp}/request-object/")), "{uri}");
    assert!(
        uri.len() > format!("{rp}/request-object/").len() + 20,
        "an unguessable id"
    );
    // sesame-op takes only registered request_uris: register this one.
    let registered = uri.clone();
    op.register("rp", &rp, move |c| {
        c.jwks = Some(JwkSet { keys: vec![jwk] });
        c.request_object_signing_alg = Some("RS256".into());
        c.request_uris = vec![registered];
    })
    .await;
    let (r, seen) = follow(&b, &url, "uri").await;
    assert!(r.status().is_success(), "{seen:?}");
    assert_eq!(signed_in(&b, &rp).await["sub"], "uri");
    let again = reqwest::get(&uri).await.unwrap();
    assert_eq!(again.status(), 404, "one read: the provider took it");
    let guessed = reqwest::get(format!("{rp}/request-object/guess"))
        .await
        .unwrap();
    assert_eq!(guessed.status(), 404);
}

#[tokio::test]
async fn an_unsigned_request_object_signs_in_where_the_client_registered_none() {
    let op = start_op().await;
    let rp = rp(&op, RequestObject::Unsigned, None, "none").await;
    let b = browser();
    let (url, pairs) = authorization_request(&b, &rp).await;
    let jwt = &pairs.iter().find(|(k, _)| k == "request").unwrap().1;
    assert!(jwt.ends_with('.'), "alg none: an empty signature");
    let (r, seen) = follow(&b, &url, "una").await;
    assert!(r.status().is_success(), "{seen:?}");
    assert_eq!(signed_in(&b, &rp).await["sub"], "una");
}

/// Metadata of a provider with request objects announced as `edit` says.
fn metadata(edit: impl FnOnce(&mut serde_json::Value)) -> ProviderMetadata {
    let mut doc = serde_json::json!({
        "issuer": "https://op.example",
        "authorization_endpoint": "https://op.example/authorize",
        "token_endpoint": "https://op.example/token",
        "jwks_uri": "https://op.example/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": ["RS256", "none"],
    });
    edit(&mut doc);
    ProviderMetadata::from_json(doc.to_string().as_bytes()).unwrap()
}

async fn build(
    mode: RequestObject,
    key: Option<SigningKey>,
    meta: ProviderMetadata,
) -> Result<OidcClient, sesame_rp::BuildError> {
    let mut b = OidcClient::builder("https://op.example".parse().unwrap(), "rp")
        .with_client_secret(SECRET)
        .with_redirect_uri("https://rp.example/callback".parse().unwrap())
        .with_metadata(meta)
        .with_request_object(mode);
    if let Some(k) = key {
        b = b.with_request_object_key(k);
    }
    b.build().await
}

#[tokio::test]
async fn settings_the_provider_cannot_take_are_refused_at_build() {
    let rs = || Some(SigningKey::generate(JwsAlgorithm::RS256).unwrap());
    assert!(
        build(RequestObject::Signed, rs(), metadata(|_| {}))
            .await
            .is_ok()
    );
    assert!(
        build(RequestObject::Unsigned, None, metadata(|_| {}))
            .await
            .is_ok()
    );
    let e = build(RequestObject::Signed, None, metadata(|_| {}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("need"), "no key: {e}");
    let es = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    let e = build(RequestObject::Signed, Some(es), metadata(|_| {}))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("ES256"),
        "an algorithm not offered: {e}"
    );
    let e = build(
        RequestObject::Unsigned,
        None,
        metadata(|d| {
            d["request_object_signing_alg_values_supported"] = serde_json::json!(["RS256"]);
        }),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("none"), "{e}");
    let e = build(
        RequestObject::Signed,
        rs(),
        metadata(|d| {
            d.as_object_mut()
                .unwrap()
                .remove("request_parameter_supported");
        }),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("request_parameter_supported"), "{e}");
    let e = build(
        RequestObject::SignedByReference,
        rs(),
        metadata(|d| {
            d["request_uri_parameter_supported"] = serde_json::json!(false);
        }),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("request_uri"), "{e}");
    assert!(
        build(
            RequestObject::SignedByReference,
            rs(),
            metadata(|d| {
                d.as_object_mut()
                    .unwrap()
                    .remove("request_parameter_supported");
            })
        )
        .await
        .is_ok(),
        "request_uri is supported unless said otherwise"
    );
}
