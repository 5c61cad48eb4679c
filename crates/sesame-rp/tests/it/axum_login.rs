//! An axum-login app using Sesame as its authentication backend, against sesame-op.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use axum::extract::{Query, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_login::{AuthManagerLayerBuilder, AuthSession, login_required};
use sesame_core::Issuer;
use sesame_rp::{
    BackendError, LoginClaims, OidcClient, OidcCredentials, SesameBackend, Users, UsersError,
    is_safe_next,
};
use tower_sessions_014::{MemoryStore, SessionManagerLayer};

use crate::support::*;

type Auth = AuthSession<SesameBackend>;

/// Local users keyed by (issuer, subject); "mallory" may not sign in.
#[derive(Clone, Default)]
struct LocalUsers {
    by_key: Arc<Mutex<HashMap<(String, String), String>>>,
    created: Arc<AtomicUsize>,
}

#[async_trait]
impl Users for LocalUsers {
    async fn find(&self, issuer: &str, subject: &str) -> Result<Option<String>, UsersError> {
        Ok(self
            .by_key
            .lock()
            .unwrap()
            .get(&(issuer.to_owned(), subject.to_owned()))
            .cloned())
    }

    async fn create(&self, login: &LoginClaims) -> Result<Option<String>, UsersError> {
        if login.subject == "mallory" {
            return Ok(None);
        }
        let n = self.created.fetch_add(1, Ordering::SeqCst) + 1;
        let id = format!("user-{n}");
        self.by_key
            .lock()
            .unwrap()
            .insert((login.issuer.clone(), login.subject.clone()), id.clone());
        Ok(Some(id))
    }
}

#[derive(serde::Deserialize)]
struct Next {
    next: Option<String>,
}

async fn login(auth: Auth, Query(q): Query<Next>) -> Response {
    let next = q
        .next
        .filter(|n| is_safe_next(n))
        .unwrap_or_else(|| "/".into());
    match auth.backend.start_login(&auth.session, None, &next).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

async fn callback(mut auth: Auth, RawQuery(q): RawQuery) -> Response {
    let creds = OidcCredentials::from_query(auth.session.clone(), q.as_deref().unwrap_or(""));
    match auth.authenticate(creds).await {
        Ok(Some(user)) => {
            let next = user.next.clone().unwrap_or_else(|| "/".into());
            assert!(user.tokens.is_some() && user.claims.contains_key("email"));
            match auth.login(&user).await {
                Ok(()) => Redirect::to(&next).into_response(),
                Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
            }
        }
        Ok(None) => (StatusCode::FORBIDDEN, "not allowed here").into_response(),
        Err(axum_login::Error::Backend(BackendError::Login(e))) => (
            StatusCode::BAD_REQUEST,
            format!("sign-in failed: {}", e.reason()),
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn account(auth: Auth) -> String {
    let user = auth.user.unwrap();
    format!("hello {} ({})", user.key.subject, user.user_id)
}

async fn logout(mut auth: Auth) -> StatusCode {
    auth.logout().await.unwrap();
    StatusCode::NO_CONTENT
}

async fn start(users: LocalUsers) -> (Op, String) {
    let op = start_op().await;
    let (listener, rp) = rp_listener().await;
    op.register("rp", &rp, |_| {}).await;
    let oidc = OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
        .with_client_secret(SECRET)
        .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
        .with_scopes("openid email")
        .unwrap()
        .build()
        .await
        .unwrap();
    let backend = SesameBackend::new(oidc, users);
    let sessions = SessionManagerLayer::new(MemoryStore::default()).with_secure(false);
    let app = Router::new()
        .route("/account", get(account))
        .route_layer(login_required!(SesameBackend, login_url = "/login"))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", post(logout))
        .layer(AuthManagerLayerBuilder::new(backend, sessions).build());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (op, rp)
}

#[tokio::test]
async fn an_axum_login_app_signs_in_through_sesame() {
    let users = LocalUsers::default();
    let (_op, rp) = start(users.clone()).await;
    let b = browser();
    let r = b.get(format!("{rp}/account")).send().await.unwrap();
    assert_eq!(r.status(), 307);
    let (r, seen) = follow(&b, &format!("{rp}/account"), "alice").await;
    assert_eq!(r.text().await.unwrap(), "hello alice (user-1)", "{seen:?}");
    assert_eq!(users.created.load(Ordering::SeqCst), 1);

    // Replaying the callback is refused: the state was spent.
    let callback = seen.iter().find(|u| u.contains("/callback?")).unwrap();
    let other = browser();
    let r = other.get(callback).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("unknown_state"));
    assert_eq!(
        other
            .get(format!("{rp}/account"))
            .send()
            .await
            .unwrap()
            .status(),
        307
    );

    // The same (issuer, subject) from another browser is the same local user.
    let (r, _) = follow(&other, &format!("{rp}/account"), "alice").await;
    assert_eq!(r.text().await.unwrap(), "hello alice (user-1)");
    assert_eq!(users.created.load(Ordering::SeqCst), 1);

    // Logout through axum-login.
    let r = b.post(format!("{rp}/logout")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        b.get(format!("{rp}/account"))
            .send()
            .await
            .unwrap()
            .status(),
        307
    );

    // A user removed locally is signed out on the next request.
    assert_eq!(
        other
            .get(format!("{rp}/account"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    users.by_key.lock().unwrap().clear();
    assert_eq!(
        other
            .get(format!("{rp}/account"))
            .send()
            .await
            .unwrap()
            .status(),
        307
    );
}

#[tokio::test]
async fn refusals_through_the_axum_login_backend() {
    let users = LocalUsers::default();
    let (op, rp) = start(users.clone()).await;
    // Users::create refusing: Ok(None), nobody signed in.
    let b = browser();
    let (r, _) = follow(&b, &format!("{rp}/login?next=/account"), "mallory").await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        b.get(format!("{rp}/account"))
            .send()
            .await
            .unwrap()
            .status(),
        307
    );
    // A login started in another browser cannot be completed in this one.
    let attacker = browser();
    let started = attacker
        .get(format!("{rp}/login?next=/account"))
        .send()
        .await
        .unwrap();
    let auth_url = started.headers()["location"].to_str().unwrap().to_owned();
    let victim = browser();
    let (r, seen) = follow(&victim, &auth_url, "victim").await;
    assert!(seen.last().unwrap().contains("/callback?"), "{seen:?}");
    assert_eq!(r.status(), 400);
    assert_eq!(
        victim
            .get(format!("{rp}/account"))
            .send()
            .await
            .unwrap()
            .status(),
        307
    );
    // A provider error is reported and signs nobody in.
    let b = browser();
    let r = b.get(format!("{rp}/login?next=/")).send().await.unwrap();
    let url = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let state = url
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
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("provider_error"));
    assert_eq!(users.created.load(Ordering::SeqCst), 0);
}

async fn login_at(
    auth: Auth,
    axum::extract::Path(provider): axum::extract::Path<String>,
) -> Response {
    match auth
        .backend
        .start_login(&auth.session, Some(&provider), "/account")
        .await
    {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(e) => (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    }
}

async fn callback_at(
    mut auth: Auth,
    axum::extract::Path(provider): axum::extract::Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let creds = OidcCredentials::from_query(auth.session.clone(), q.as_deref().unwrap_or(""))
        .for_provider(provider);
    match auth.authenticate(creds).await {
        Ok(Some(user)) => {
            auth.login(&user).await.unwrap();
            Redirect::to("/account").into_response()
        }
        Ok(None) => StatusCode::FORBIDDEN.into_response(),
        Err(axum_login::Error::Backend(e)) => {
            let reason = match &e {
                BackendError::Login(l) => l.reason().to_owned(),
                other => other.to_string(),
            };
            (StatusCode::BAD_REQUEST, reason).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[tokio::test]
async fn an_axum_login_backend_over_several_providers() {
    let (one, two) = (start_op().await, start_op().await);
    let (listener, rp) = rp_listener().await;
    let mut clients = Vec::new();
    for (op, name) in [(&one, "one"), (&two, "two")] {
        op.register("rp", &rp, |c| {
            c.redirect_uris =
                vec![sesame_core::RedirectUri::new(format!("{rp}/callback/{name}")).unwrap()];
        })
        .await;
        clients.push(
            OidcClient::builder(Issuer::new(op.base.clone()).unwrap(), "rp")
                .with_name(name)
                .with_client_secret(SECRET)
                .with_redirect_uri(format!("{rp}/callback/{name}").parse().unwrap())
                .with_scopes("openid email")
                .unwrap()
                .build()
                .await
                .unwrap(),
        );
    }
    let mut providers = sesame_rp::OidcProviders::builder();
    for c in clients {
        providers = providers.with_provider(c);
    }
    let backend = SesameBackend::for_providers(providers.build().unwrap(), LocalUsers::default());
    let sessions = SessionManagerLayer::new(MemoryStore::default()).with_secure(false);
    let app = Router::new()
        .route("/account", get(account))
        .route_layer(login_required!(SesameBackend, login_url = "/login"))
        .route("/login/{provider}", get(login_at))
        .route("/callback/{provider}", get(callback_at))
        .layer(AuthManagerLayerBuilder::new(backend, sessions).build());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let b = browser();
    let (r, seen) = follow(&b, &format!("{rp}/login/two"), "lena").await;
    assert_eq!(r.text().await.unwrap(), "hello lena (user-1)", "{seen:?}");
    assert!(seen.iter().any(|u| u.starts_with(&two.base)));
    assert_eq!(
        b.get(format!("{rp}/login/three"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // A state started for one, delivered to two's callback: refused, nobody signed in.
    let other = browser();
    let callback = until_callback(
        &other,
        &format!("{rp}/login/one"),
        "mia",
        &format!("{rp}/callback/one?"),
    )
    .await;
    let r = other
        .get(callback.replace("/callback/one?", "/callback/two?"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.text().await.unwrap(), "wrong_provider");
    assert_eq!(
        other
            .get(format!("{rp}/account"))
            .send()
            .await
            .unwrap()
            .status(),
        307
    );
}
