//! Several providers in one app, against two sesame-op instances.

use sesame_core::{Issuer, KeySet, ProviderMetadata, RedirectUri};
use sesame_rp::{OidcClient, OidcProviders};

use crate::support::*;

async fn client_for(op: &Op, name: &str, rp: &str) -> OidcClient {
    op.register("rp", rp, |c| {
        c.redirect_uris = vec![RedirectUri::new(format!("{rp}/callback/{name}")).unwrap()];
        c.backchannel_logout_uri = Some(format!("{rp}/backchannel-logout/{name}"));
    })
    .await;
    OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
        .with_name(name)
        .with_client_secret(SECRET)
        .with_redirect_uri(format!("{rp}/callback/{name}").parse().unwrap())
        .with_post_logout_redirect_uri(format!("{rp}/"))
        .build()
        .await
        .unwrap()
}

async fn me(b: &reqwest::Client, rp: &str) -> (u16, serde_json::Value) {
    let r = b.get(format!("{rp}/me")).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

/// Ends the browser's session at the provider directly, which notifies the
/// relying parties over the back channel.
async fn logout_at_provider(b: &reqwest::Client, op: &Op) {
    let html = b
        .get(format!("{}/end_session", op.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (action, mut fields) = post_form(&html).unwrap();
    fields.push(("logout".into(), "1".into()));
    let action = url::Url::parse(&op.base).unwrap().join(&action).unwrap();
    let r = b.post(action).form(&fields).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn two_providers_sign_in_log_out_and_back_channel_by_provider() {
    let (one, two) = (start_op().await, start_op().await);
    let (listener, rp) = rp_listener().await;
    let providers = OidcProviders::builder()
        .with_provider(client_for(&one, "one", &rp).await)
        .with_provider(client_for(&two, "two", &rp).await)
        .build()
        .unwrap();
    assert_eq!(providers.names().collect::<Vec<_>>(), ["one", "two"]);
    rp_providers_app(providers, listener).await;
    let b = browser();

    // A protected page sends the browser to the provider list, which links each provider.
    let r = b.get(format!("{rp}/account")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?next=%2Faccount");
    let list = b
        .get(format!("{rp}/login?next=%2Faccount"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("href=\"/login/one?next=%2Faccount\""),
        "{list}"
    );
    assert!(
        list.contains("href=\"/login/two?next=%2Faccount\""),
        "{list}"
    );
    let r = b
        .get(format!("{rp}/login?next=//evil.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        b.get(format!("{rp}/login/three"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // Sign in with the second provider: the session records it.
    let (r, seen) = follow(&b, &format!("{rp}/login/two?next=/account"), "alice").await;
    assert_eq!(r.text().await.unwrap(), "hello alice via two", "{seen:?}");
    assert!(seen.iter().any(|u| u.starts_with(&two.base)));
    assert!(!seen.iter().any(|u| u.starts_with(&one.base)));
    assert!(
        seen.iter()
            .any(|u| u.starts_with(&format!("{rp}/callback/two?")))
    );
    let (status, claims) = me(&b, &rp).await;
    assert_eq!(
        (status, claims["iss"].as_str()),
        (200, Some(two.base.as_str()))
    );

    // Logout ends the session at that provider, not the other.
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
    assert!(
        to.starts_with(&format!("{}/end_session?", two.base)),
        "{to}"
    );
    let state = url::Url::parse(&to)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let (r, seen) = follow(&b, &to, "alice").await;
    assert_eq!(seen.last().unwrap(), &format!("{rp}/?state={state}"));
    assert_eq!(
        r.text().await.unwrap(),
        "LoggedOut",
        "that provider's state"
    );
    assert_eq!(me(&b, &rp).await.0, 401);

    // The first provider, then a back-channel logout from it ends the session.
    let (r, _) = follow(&b, &format!("{rp}/login/one?next=/account"), "bob").await;
    assert_eq!(r.text().await.unwrap(), "hello bob via one");
    assert_eq!(me(&b, &rp).await.1["iss"].as_str(), Some(one.base.as_str()));
    logout_at_provider(&b, &one).await;
    for _ in 0..100 {
        if me(&b, &rp).await.0 == 401 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the back-channel logout at /backchannel-logout/one did not end the session");
}

#[tokio::test]
async fn a_state_from_one_provider_is_refused_at_the_other_callback() {
    let (one, two) = (start_op().await, start_op().await);
    let (listener, rp) = rp_listener().await;
    let providers = OidcProviders::builder()
        .with_provider(client_for(&one, "one", &rp).await)
        .with_provider(client_for(&two, "two", &rp).await)
        .build()
        .unwrap();
    rp_providers_app(providers, listener).await;
    let b = browser();
    // The login starts at provider one; its authorization response is then
    // delivered to provider two's callback (as a mix-up attacker would).
    let callback = until_callback(
        &b,
        &format!("{rp}/login/one?next=/"),
        "eve",
        &format!("{rp}/callback/one?"),
    )
    .await;
    assert!(callback.contains("state="));
    let moved = callback.replace("/callback/one?", "/callback/two?");
    let r = b.get(&moved).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("another provider"));
    assert_eq!(me(&b, &rp).await.0, 401);
    // The state was spent there: its own callback refuses it now too.
    let r = b.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(me(&b, &rp).await.0, 401);
}

fn offline_client(name: &str, redirect: &str) -> OidcClient {
    let metadata = ProviderMetadata {
        issuer: "https://op.example".into(),
        authorization_endpoint: Some("https://op.example/authorize".into()),
        token_endpoint: Some("https://op.example/token".into()),
        jwks_uri: Some("https://op.example/jwks".into()),
        ..ProviderMetadata::default()
    };
    let build = OidcClient::builder(Issuer::new("https://op.example").unwrap(), "rp")
        .with_name(name)
        .with_metadata(metadata)
        .with_static_keys(KeySet::default())
        .with_redirect_uri(redirect.parse().unwrap())
        .build();
    futures_now(build).unwrap()
}

fn futures_now<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn the_registry_refuses_bad_configurations() {
    let ok = |n: &str| offline_client(n, &format!("https://app.example/callback/{n}"));
    let err = |b: sesame_rp::OidcProvidersBuilder| b.build().unwrap_err().to_string();
    assert!(err(OidcProviders::builder()).contains("at least one"));
    let dup = OidcProviders::builder()
        .with_provider(ok("a"))
        .with_provider(ok("a"));
    assert!(err(dup).contains("used twice"));
    let bad_name = OidcProviders::builder()
        .with_provider(offline_client("a/b", "https://app.example/callback/a/b"));
    assert!(err(bad_name).contains("must be 1-64"));
    // A shared redirect URI would let any provider's response reach any callback.
    let shared =
        OidcProviders::builder().with_provider(offline_client("a", "https://app.example/callback"));
    assert!(err(shared).contains("must end in /callback/a"));
    let nested = OidcProviders::builder()
        .with_provider(offline_client("a", "https://app.example/auth/callback/a"))
        .build()
        .unwrap();
    assert_eq!(nested.login_path("a"), "/login/a");
}

#[tokio::test]
async fn each_session_is_refreshed_at_its_own_provider() {
    use axum::Router;
    use axum::routing::get;
    use sesame_rp::{AccessToken, RequireLogin, SessionRefresh};

    // Access tokens live 30 s at both providers: every request refreshes.
    let one = start_op_with(|s| s.access_token_ttl = 30).await;
    let two = start_op_with(|s| s.access_token_ttl = 30).await;
    let (listener, rp) = rp_listener().await;
    let mut builder = OidcProviders::builder();
    for (op, name) in [(&one, "one"), (&two, "two")] {
        op.register("rp", &rp, |c| {
            c.redirect_uris = vec![RedirectUri::new(format!("{rp}/callback/{name}")).unwrap()];
        })
        .await;
        builder = builder.with_provider(
            OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
                .with_name(name)
                .with_client_secret(SECRET)
                .with_redirect_uri(format!("{rp}/callback/{name}").parse().unwrap())
                .with_scopes("openid offline_access")
                .unwrap()
                .build()
                .await
                .unwrap(),
        );
    }
    let providers = builder.build().unwrap();
    let app = Router::new()
        .route(
            "/token",
            get(|t: AccessToken| async move { t.0.secret().to_owned() }),
        )
        .layer(RequireLogin::for_providers(providers.clone()))
        .layer(SessionRefresh::for_providers(providers.clone()))
        .merge(providers.router())
        .layer(sesame_rp::session_layer(false));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let b = browser();
    let (r, _) = follow(&b, &format!("{rp}/login/two?next=/token"), "nina").await;
    let first = r.text().await.unwrap();
    let second = b
        .get(format!("{rp}/token"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_ne!(first, second, "refreshed");
    // The refreshed token was issued by provider two: its introspection knows it.
    let info: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/introspect", two.base))
        .basic_auth("rp", Some(SECRET))
        .form(&[("token", second.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["active"], true, "{info}");
}
