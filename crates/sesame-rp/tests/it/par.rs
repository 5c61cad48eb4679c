//! PAR (RFC 9126) against Sesame's own provider: asked for, or required by
//! the provider's discovery document.

use sesame_core::Issuer;
use sesame_rp::OidcClient;

use crate::support::*;

async fn sign_in(op: &Op, rp: &str, b: &reqwest::Client) -> (u16, String, Vec<String>) {
    let (r, seen) = follow(b, &format!("{rp}/account"), "paula").await;
    let authorize = seen
        .iter()
        .find(|u| u.starts_with(&format!("{}/authorize?", op.base)))
        .cloned()
        .unwrap_or_default();
    (
        r.status().as_u16(),
        r.text().await.unwrap(),
        vec![authorize],
    )
}

#[tokio::test]
async fn with_par_pushes_and_sends_only_the_request_uri() {
    let op = start_op().await;
    let (listener, rp) = rp_listener().await;
    op.register("rp", &rp, |c| c.require_par = true).await;
    let oidc = OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
        .with_client_secret(SECRET)
        .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
        .with_par()
        .build()
        .await
        .unwrap();
    rp_app(oidc, listener).await;
    let (status, body, seen) = sign_in(&op, &rp, &browser()).await;
    assert_eq!((status, body.as_str()), (200, "hello paula"), "{seen:?}");
    let url = url::Url::parse(&seen[0]).unwrap();
    let names: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(names, ["client_id", "request_uri"], "{url}");
    assert_eq!(op.hits.of("/par"), 1);
}

#[tokio::test]
async fn a_provider_that_requires_par_gets_pushed_requests_unasked() {
    let op = start_op_with(|s| s.require_par = true).await;
    let (listener, rp) = rp_listener().await;
    op.register("rp", &rp, |_| {}).await;
    let oidc = OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
        .with_client_secret(SECRET)
        .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
        .with_jarm()
        .build()
        .await
        .unwrap();
    rp_app(oidc, listener).await;
    let (status, body, seen) = sign_in(&op, &rp, &browser()).await;
    assert_eq!((status, body.as_str()), (200, "hello paula"), "{seen:?}");
    assert!(seen[0].contains("request_uri="), "{seen:?}");
    assert_eq!(op.hits.of("/par"), 1);
}

#[tokio::test]
async fn par_without_an_endpoint_is_a_clear_build_error() {
    let op = start_op().await;
    for (asked, required) in [(true, None), (false, Some(true))] {
        let mut b = OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
            .with_client_secret(SECRET)
            .with_redirect_uri("http://127.0.0.1:1/callback".parse().unwrap())
            .with_metadata(sesame_core::ProviderMetadata {
                issuer: op.base.clone(),
                authorization_endpoint: Some(format!("{}/authorize", op.base)),
                token_endpoint: Some(format!("{}/token", op.base)),
                jwks_uri: Some(format!("{}/jwks", op.base)),
                require_pushed_authorization_requests: required,
                ..Default::default()
            });
        if asked {
            b = b.with_par();
        }
        let err = b.build().await.unwrap_err().to_string();
        assert!(
            err.contains("pushed_authorization_request_endpoint"),
            "{err}"
        );
    }
}
