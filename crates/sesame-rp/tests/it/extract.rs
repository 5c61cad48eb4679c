//! Extractors outside `RequireLogin` (REVIEW S18).

use axum::Router;
use axum::routing::get;
use serde_json::Map;
use sesame_core::{Clock, SystemClock};
use sesame_rp::Claims;
use tower_sessions::Session;

use crate::support::*;

/// A signed-in session read by `Option<Claims>` on a route with neither
/// `RequireLogin` nor `Extension(OidcClient)`: the back-channel-logout and
/// max-age checks cannot run, so the extractor fails closed.
#[tokio::test]
async fn claims_without_a_client_fail_closed() {
    let app = Router::new()
        .route(
            "/sign-in",
            get(|s: Session| async move {
                sesame_rp::testing::sign_in(
                    &s,
                    "https://op.example",
                    "u",
                    Map::new(),
                    SystemClock.now(),
                )
                .await
                .unwrap();
                "ok"
            }),
        )
        .route(
            "/me",
            get(|c: Option<Claims>| async move {
                if c.is_some() {
                    "signed in"
                } else {
                    "signed out"
                }
            }),
        )
        .route("/must", get(|c: Claims| async move { c.subject }))
        .layer(sesame_rp::session_layer(false));
    let (listener, base) = rp_listener().await;
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let b = browser();
    b.get(format!("{base}/sign-in")).send().await.unwrap();
    let me = b
        .get(format!("{base}/me"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(me, "signed out");
    let must = b.get(format!("{base}/must")).send().await.unwrap();
    assert_eq!(must.status(), 401);
}
