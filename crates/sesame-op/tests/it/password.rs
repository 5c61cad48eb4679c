//! The resource owner password credentials grant (RFC 6749 §4.3).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use serde_json::Value;
use sesame_core::Subject;
use sesame_op::{
    AuthMethod, AuthnError, GrantType, PasswordAuthenticator, PasswordCheck, PasswordRequest,
    RequestInfo, Settings,
};

use crate::support::*;

const PASSWORD: &str = "correct horse battery staple";

/// alice / PASSWORD; "slow" is rate limited; everything else is wrong.
#[derive(Clone, Default)]
struct Passwords {
    calls: Arc<AtomicUsize>,
}

#[async_trait]
impl PasswordAuthenticator for Passwords {
    async fn check_password(
        &self,
        _from: RequestInfo<'_>,
        request: PasswordRequest<'_>,
    ) -> Result<PasswordCheck, AuthnError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        assert!(!format!("{request:?}").contains(request.password));
        Ok(match (request.username, request.password) {
            ("slow", _) => PasswordCheck::RateLimited { retry_after: 7 },
            ("alice", PASSWORD) => PasswordCheck::Valid(Subject::new("alice")),
            ("deleted", PASSWORD) => PasswordCheck::Valid(Subject::new("deleted")),
            _ => PasswordCheck::Invalid,
        })
    }
}

async fn enabled(passwords: Passwords) -> Harness {
    start_with(move |b| {
        let mut settings = Settings::default();
        settings.password_grant = true;
        b.with_settings(settings)
            .with_password_authenticator(passwords)
    })
    .await
}

async fn grant(h: &Harness, client: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
    ];
    for (k, v) in extra {
        form.retain(|(name, _)| name != k);
        form.push((k, v));
    }
    h.http
        .post(h.url("/token"))
        .basic_auth(client, Some(SECRET))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn grant_types(h: &Harness) -> Vec<String> {
    let d = json(
        h.http
            .get(h.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    serde_json::from_value(d["grant_types_supported"].clone()).unwrap()
}

#[tokio::test]
async fn the_password_grant_is_off_by_default() {
    let h = start_with(|b| b.with_password_authenticator(Passwords::default())).await;
    h.client("app", |c| c.grant_types.push(GrantType::Password))
        .await;
    let r = grant(&h, "app", &[("scope", "openid")]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(json(r).await["error"], "unsupported_grant_type");
    assert!(!grant_types(&h).await.contains(&"password".to_owned()));
}

#[tokio::test]
async fn enabling_it_needs_a_password_authenticator() {
    let mut settings = Settings::default();
    settings.password_grant = true;
    let built = sesame_op::Provider::builder("https://op.example".parse().unwrap())
        .with_store(Arc::new(sesame_op::MemoryStore::new()))
        .with_authenticator(NoLogin)
        .with_settings(settings)
        .build()
        .await;
    let e = built.unwrap_err().to_string();
    assert!(e.contains("with_password_authenticator"), "{e}");
}

#[tokio::test]
async fn only_clients_registered_for_it_and_never_public_ones() {
    let passwords = Passwords::default();
    let h = enabled(passwords.clone()).await;
    assert!(grant_types(&h).await.contains(&"password".to_owned()));
    h.client("plain", |_| {}).await;
    let r = grant(&h, "plain", &[]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(json(r).await["error"], "unauthorized_client");

    h.client("public", |c| {
        c.token_endpoint_auth_method = AuthMethod::None;
        c.grant_types.push(GrantType::Password);
    })
    .await;
    let r = h
        .http
        .post(h.url("/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "public"),
            ("username", "alice"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(json(r).await["error"], "unauthorized_client");
    assert_eq!(
        passwords.calls.load(Ordering::SeqCst),
        0,
        "no password was checked"
    );
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_is_invalid_grant_alike() {
    let h = enabled(Passwords::default()).await;
    h.client("app", |c| c.grant_types.push(GrantType::Password))
        .await;
    let mut answers = Vec::new();
    for (user, password) in [("alice", "wrong"), ("nobody", PASSWORD)] {
        let r = grant(&h, "app", &[("username", user), ("password", password)]).await;
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()["cache-control"], "no-store");
        answers.push(json(r).await);
    }
    assert_eq!(answers[0]["error"], "invalid_grant");
    assert_eq!(answers[0], answers[1], "the answer does not tell which");
    // A user the claims source no longer knows.
    let r = grant(&h, "app", &[("username", "deleted")]).await;
    assert_eq!(json(r).await["error"], "invalid_grant");
}

#[tokio::test]
async fn malformed_requests_are_refused_before_the_password_is_checked() {
    let passwords = Passwords::default();
    let h = enabled(passwords.clone()).await;
    h.client("app", |c| {
        c.grant_types.push(GrantType::Password);
        c.allowed_scopes = sesame_core::Scopes::parse("openid email").ok();
    })
    .await;
    for (missing, error) in [
        ("username", "invalid_request"),
        ("password", "invalid_request"),
    ] {
        let form: Vec<(&str, &str)> = [
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", PASSWORD),
        ]
        .into_iter()
        .filter(|(k, _)| *k != missing)
        .collect();
        let r = h
            .http
            .post(h.url("/token"))
            .basic_auth("app", Some(SECRET))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(json(r).await["error"], error, "without {missing}");
    }
    let r = grant(&h, "app", &[("scope", "openid groups")]).await;
    assert_eq!(json(r).await["error"], "invalid_scope");
    let r = grant(&h, "app", &[("resource", "https://api.example/")]).await;
    assert_eq!(json(r).await["error"], "invalid_target");
    assert_eq!(passwords.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_right_password_gets_tokens() {
    let h = enabled(Passwords::default()).await;
    h.client("app", |c| c.grant_types.push(GrantType::Password))
        .await;
    let r = grant(
        &h,
        "app",
        &[("scope", "openid email offline_access unknown-scope")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = json(r).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "openid email offline_access");
    let id = h
        .validate("app", body["id_token"].as_str().unwrap(), None)
        .await;
    assert_eq!(id.claims.sub.as_str(), "alice");
    assert_eq!(id.claims.auth_time, Some(sesame_core::Clock::now(&h.clock)));
    assert_eq!(id.claims.amr, Some(vec!["pwd".to_owned()]));
    assert!(id.claims.nonce.is_none() && id.claims.sid.is_none());
    let info = json(h.userinfo(body["access_token"].as_str().unwrap()).await).await;
    assert_eq!(info["sub"], "alice");
    assert_eq!(info["email"], "alice@example.com");
    // The refresh token works like any other.
    let r = h
        .http
        .post(h.url("/token"))
        .basic_auth("app", Some(SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Without openid: an access token only; offline_access needs the refresh grant.
    h.client("api-only", |c| c.grant_types = vec![GrantType::Password])
        .await;
    let body = json(grant(&h, "api-only", &[("scope", "email offline_access")]).await).await;
    assert!(body.get("id_token").is_none() && body.get("refresh_token").is_none());
    assert_eq!(body["scope"], "email");
}

#[tokio::test]
async fn a_rate_limited_attempt_is_429_with_retry_after() {
    let h = enabled(Passwords::default()).await;
    h.client("app", |c| c.grant_types.push(GrantType::Password))
        .await;
    let r = grant(&h, "app", &[("username", "slow")]).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    assert_eq!(json(r).await["error"], "temporarily_unavailable");
}
