//! DPoP (RFC 9449) against sesame-op with a client whose tokens must be
//! DPoP-bound: sign-in, UserInfo and API calls with proofs, refresh, and
//! per-session keys shared by two instances.

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use sesame_core::Issuer;
use sesame_rp::{ApiToken, OidcClient, OidcClientBuilder, RequireLogin, SessionRefresh};

use crate::support::*;

fn builder(op: &Op, rp: &str, scopes: &str) -> OidcClientBuilder {
    OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
        .with_client_secret(SECRET)
        .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
        .with_scopes(scopes)
        .unwrap()
}

/// `/call` reads the provider's UserInfo with the session's token through
/// [`ApiToken::send`]; `/token` shows the token and whether it is DPoP-bound.
fn app(oidc: OidcClient, op_base: &str, store: tower_sessions::MemoryStore) -> Router {
    let userinfo = format!("{op_base}/userinfo");
    Router::new()
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
        .route(
            "/token",
            get(|api: ApiToken| async move {
                axum::Json(json!({"dpop": api.is_dpop(), "token": api.access_token().secret()}))
            }),
        )
        .route(
            "/me",
            get(|c: sesame_rp::Claims| async move { axum::Json(json!({"claims": c.claims})) }),
        )
        .layer(RequireLogin::new(oidc.clone()))
        .layer(SessionRefresh::new(oidc.clone()))
        .merge(oidc.router())
        .layer(axum::Extension(oidc))
        .layer(sesame_rp::session_layer_with(store, false))
}

async fn serve(app: Router, listener: tokio::net::TcpListener) {
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

async fn get_json(b: &reqwest::Client, url: &str) -> Value {
    b.get(url).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_dpop_sign_in_gets_a_bound_token_and_reads_userinfo_with_proofs() {
    let op = start_op().await;
    let (listener, rp) = rp_listener().await;
    op.register("rp", &rp, |c| c.dpop_bound_access_tokens = true)
        .await;
    let oidc = builder(&op, &rp, "openid profile")
        .with_dpop()
        .build()
        .await
        .unwrap();
    assert!(oidc.uses_dpop());
    serve(app(oidc, &op.base, Default::default()), listener).await;
    let b = browser();
    let (r, seen) = follow(&b, &format!("{rp}/token"), "dora").await;
    assert_eq!(r.status(), 200, "{seen:?}");
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["dpop"], true, "{t}");
    // The login read UserInfo (a bound token needs the DPoP scheme and a proof there).
    assert_eq!(op.hits.of("/userinfo"), 1);
    let me = get_json(&b, &format!("{rp}/me")).await;
    assert_eq!(me["claims"]["name"], "User dora", "{me}");
    // An API call as the user: DPoP scheme, a fresh proof with ath.
    let call = get_json(&b, &format!("{rp}/call")).await;
    assert_eq!(call["status"], 200, "{call}");
    assert_eq!(call["body"]["sub"], "dora");
    // The same token as a Bearer token is refused: it is bound to the app's key.
    let token = t["token"].as_str().unwrap();
    let bearer = reqwest::Client::new()
        .get(format!("{}/userinfo", op.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 401);
}

#[tokio::test]
async fn without_dpop_a_client_that_must_bind_its_tokens_cannot_sign_in() {
    // The control of the test above: the provider refuses a token request without a proof.
    let op = start_op().await;
    let (listener, rp) = rp_listener().await;
    op.register("rp", &rp, |c| c.dpop_bound_access_tokens = true)
        .await;
    let oidc = builder(&op, &rp, "openid").build().await.unwrap();
    serve(app(oidc, &op.base, Default::default()), listener).await;
    let (r, _) = follow(&browser(), &format!("{rp}/token"), "dora").await;
    assert_ne!(r.status(), 200);
}

#[tokio::test]
async fn per_session_keys_refresh_and_serve_api_calls_at_another_instance() {
    // Access tokens live 30 s: every request refreshes.
    let op = start_op_with(|s| s.access_token_ttl = 30).await;
    let (first, rp) = rp_listener().await;
    let (second, rp2) = rp_listener().await;
    op.register("rp", &rp, |c| {
        c.dpop_bound_access_tokens = true;
        c.token_endpoint_auth_method = sesame_op::AuthMethod::None;
    })
    .await;
    // Two instances of one app: one session store, a key per session (a
    // public client, whose refresh tokens are bound to that key too).
    let store = tower_sessions::MemoryStore::default();
    for listener in [first, second] {
        let oidc = builder(&op, &rp, "openid offline_access")
            .with_auth_method(sesame_rp::ClientAuth::None)
            .with_dpop_per_session()
            .build()
            .await
            .unwrap();
        serve(app(oidc, &op.base, store.clone()), listener).await;
    }
    let b = browser();
    let (r, seen) = follow(&b, &format!("{rp}/token"), "pia").await;
    assert_eq!(r.status(), 200, "{seen:?}");
    let before: Value = r.json().await.unwrap();
    assert_eq!(before["dpop"], true);
    // At the other instance (same cookie: cookies ignore the port) the session's key
    // refreshes the token and signs the API call.
    let after = get_json(&b, &format!("{rp2}/token")).await;
    assert_eq!(after["dpop"], true, "{after}");
    assert_ne!(
        after["token"], before["token"],
        "refreshed with the session's key"
    );
    let call = get_json(&b, &format!("{rp2}/call")).await;
    assert_eq!(call["status"], 200, "{call}");
    assert_eq!(call["body"]["sub"], "pia");
}
