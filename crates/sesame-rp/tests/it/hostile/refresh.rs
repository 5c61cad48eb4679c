//! A refreshed ID token must be about the same login (OIDC Core §12.2), and
//! the userinfo answer after a refresh about the same user: otherwise the
//! session ends (issue 14, the refresh plan).

use axum::Extension;
use axum::http::StatusCode;
use sesame_rp::{Claims, SessionRefresh};

use super::*;

/// Signs in at the hostile provider (ID tokens with `auth_time` 100), lets
/// `change` alter the provider, moves past the access token's refresh
/// point and asks `/me`: its status, and the token endpoint calls made.
async fn after_refresh(change: impl FnOnce(&Fake)) -> (u16, usize) {
    let fake = fake_op().await;
    *fake.edit.lock().unwrap() = Arc::new(|c, _| c["auth_time"] = json!(100));
    let (listener, rp) = rp_listener().await;
    let clock = sesame_core::TestClock::at(SystemClock.now());
    let oidc = OidcClient::builder(Issuer::new(fake.base.clone()).unwrap(), "rp")
        .with_clock(clock.clone())
        .with_client_secret(SECRET)
        .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
        .build()
        .await
        .unwrap();
    let me = |c: Option<Claims>| async move {
        match c {
            Some(c) => (StatusCode::OK, c.subject),
            None => (StatusCode::UNAUTHORIZED, String::new()),
        }
    };
    let app = Router::new()
        .route("/me", get(me))
        .layer(SessionRefresh::new(oidc.clone()))
        .merge(oidc.router())
        .layer(Extension(oidc))
        .layer(sesame_rp::session_layer(false));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let b = browser();
    follow(&b, &format!("{rp}/login"), "x").await;
    let me_url = format!("{rp}/me");
    let r = b.get(&me_url).send().await.unwrap();
    assert_eq!(r.status(), 200, "signed in");
    change(&fake);
    // The access token lives 300 s; it is refreshed in its last minute.
    clock.advance(250);
    let s = b.get(&me_url).send().await.unwrap().status().as_u16();
    (s, fake.token_calls.load(Ordering::SeqCst))
}

fn refreshed_with(f: impl Fn(&mut Value) + Send + Sync + 'static) -> impl FnOnce(&Fake) {
    move |fake: &Fake| {
        *fake.edit.lock().unwrap() = Arc::new(move |c, _| {
            c["auth_time"] = json!(100);
            f(c);
        });
    }
}

#[tokio::test]
async fn the_same_login_is_refreshed_and_userinfo_asked_again() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let (status, tokens) = after_refresh(move |f| {
        seen.store(f.userinfo_calls.load(Ordering::SeqCst), Ordering::SeqCst);
    })
    .await;
    assert_eq!((status, tokens), (200, 2), "refreshed, still signed in");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "one userinfo call at login"
    );
}

#[tokio::test]
async fn a_refreshed_id_token_of_another_login_ends_the_session() {
    for (why, claim, value) in [
        ("another auth_time", "auth_time", json!(101)),
        ("another nonce", "nonce", json!("not-the-login's")),
        ("another sub", "sub", json!("someone-else")),
    ] {
        let (status, tokens) =
            after_refresh(refreshed_with(move |c| c[claim] = value.clone())).await;
        assert_eq!(tokens, 2, "{why}: the refresh was made");
        assert_eq!(status, 401, "{why}: the session ended");
    }
    // No nonce at all is what providers usually send: accepted.
    let (status, _) = after_refresh(refreshed_with(|c| {
        c.as_object_mut().unwrap().remove("nonce");
    }))
    .await;
    assert_eq!(status, 200, "no nonce");
}

#[tokio::test]
async fn userinfo_about_another_user_after_a_refresh_ends_the_session() {
    let (status, tokens) = after_refresh(|f| {
        *f.userinfo_sub.lock().unwrap() = Some("someone-else".into());
    })
    .await;
    assert_eq!((status, tokens), (401, 2));
}
