//! SessionRefresh against sesame-op: refresh-token exchange, silent
//! re-authentication, and 401 for stale non-GET requests.

use axum::Router;
use axum::routing::{get, post};
use sesame_core::Issuer;
use sesame_rp::{AccessToken, OidcClient, RequireLogin, SessionRefresh};

use crate::support::*;

/// Registers an RP at `op`, builds its client and serves the test app on the registered port.
async fn app(op: &Op, scopes: &str, refresh: impl FnOnce(OidcClient) -> SessionRefresh) -> String {
    let (listener, rp) = rp_listener().await;
    op.register("rp", &rp, |_| {}).await;
    let oidc = client(op, &rp, scopes).await;
    let app = Router::new()
        .route(
            "/token",
            get(|t: AccessToken| async move { t.0.secret().to_owned() }),
        )
        .route("/mutate", post(|| async { "done" }))
        .layer(RequireLogin::new(oidc.clone()))
        .layer(refresh(oidc.clone()))
        .merge(oidc.router())
        .layer(axum::Extension(oidc))
        .layer(sesame_rp::session_layer(false));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    rp
}

async fn client(op: &Op, rp: &str, scopes: &str) -> OidcClient {
    OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
        .with_client_secret(SECRET)
        .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
        .with_scopes(scopes)
        .unwrap()
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn access_tokens_are_refreshed_before_they_expire() {
    // Access tokens live 30 s: always inside the refresh window.
    let op = start_op_with(|s| s.access_token_ttl = 30).await;
    let rp = app(&op, "openid offline_access", SessionRefresh::new).await;
    let b = browser();
    let (r, _) = follow(&b, &format!("{rp}/token"), "rita").await;
    assert_eq!(r.status(), 200);
    let first = r.text().await.unwrap();
    let second = b
        .get(format!("{rp}/token"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_ne!(first, second, "the access token was refreshed");
    let info = reqwest::Client::new()
        .get(format!("{}/userinfo", op.base))
        .bearer_auth(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200, "the new token works");
}

#[tokio::test]
async fn without_a_refresh_token_a_stale_session_reauthenticates_silently_once() {
    let op = start_op_with(|s| s.access_token_ttl = 30).await;
    let rp = app(&op, "openid", SessionRefresh::new).await;
    let b = browser();
    // The access token lives 30 s, so right after the login the session is
    // already stale: one silent prompt=none round trip follows, with no login page.
    let (r, seen) = follow(&b, &format!("{rp}/token"), "sam").await;
    assert_eq!(r.status(), 200, "{seen:?}");
    assert_eq!(
        seen.iter().filter(|u| u.contains("/op-login")).count(),
        1,
        "{seen:?}"
    );
    assert_eq!(
        seen.iter().filter(|u| u.contains("prompt=none")).count(),
        1,
        "{seen:?}"
    );
    // A POST with a stale session: 401, never silently performed.
    let r = b.post(format!("{rp}/mutate")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // No second silent attempt within the interval: no loop.
    let r = b.get(format!("{rp}/token")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// REVIEW S10: two concurrent requests on one stale session send the refresh
/// token once; neither is signed out and the grant is not revoked.
#[tokio::test]
async fn concurrent_requests_on_a_stale_session_refresh_once() {
    let op = start_op_with(|s| s.access_token_ttl = 30).await;
    let rp = app(&op, "openid offline_access", SessionRefresh::new).await;
    let b = browser();
    let (r, _) = follow(&b, &format!("{rp}/token"), "rita").await;
    assert_eq!(r.status(), 200);
    let url = format!("{rp}/token");
    let (one, two) = tokio::join!(b.get(&url).send(), b.get(&url).send());
    assert_eq!(one.unwrap().status(), 200);
    assert_eq!(two.unwrap().status(), 200);
    let third = b.get(&url).send().await.unwrap();
    assert_eq!(third.status(), 200, "still signed in, the grant intact");
}
