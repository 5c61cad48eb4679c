//! The password grant in the server: configuration, the CLI, and the login
//! form's rate limits and Argon2 check behind it.

use serde_json::Value;
use sesame_core::GrantType;
use sesame_server::Config;
use sesame_server::admin::{self, NewClient};

use crate::support::*;

/// The server, with the client allowed the password grant and alice's subject.
struct Legacy {
    server: Server,
    base: String,
    client_id: String,
    client_secret: String,
    subject: String,
}

impl Legacy {
    async fn stop(self) {
        self.server.stop().await;
    }
}

/// A server on `dir` with user alice and a confidential client allowed the password grant.
async fn start(dir: &TempDir, edit: impl FnOnce(&mut Config)) -> Legacy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = Config {
        issuer: base.clone(),
        database: dir.db(),
        ..Config::default()
    };
    edit(&mut config);
    let store = sesame_server::store::open(&config).await.unwrap();
    let accounts = sesame_server::store::accounts(&config, &store);
    let hash = sesame_op::secrets::hash_password("alice-password").unwrap();
    let subject = match accounts.add_user("alice", &hash, None, None, 0).await {
        Ok(u) => u.subject,
        Err(_) => accounts.find_user("alice").await.unwrap().unwrap().subject,
    };
    let registered = admin::add_client(
        &store,
        &NewClient {
            name: "Legacy".into(),
            redirect_uris: vec!["https://legacy.example/cb".into()],
            grant_types: vec![GrantType::Password, GrantType::RefreshToken],
            ..NewClient::default()
        },
    )
    .await
    .unwrap();
    store.close().await;
    Legacy {
        server: Server::spawn_with(config, listener).await,
        base,
        client_id: registered.client_id,
        client_secret: registered.client_secret.unwrap(),
        subject,
    }
}

async fn password_grant(s: &Legacy, username: &str, password: &str) -> reqwest::Response {
    password_grant_from(s, "", username, password).await
}

/// The grant as sent through a proxy for `xff` (empty: none).
async fn password_grant_from(
    s: &Legacy,
    xff: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let mut r = reqwest::Client::new().post(format!("{}/token", s.base));
    if !xff.is_empty() {
        r = r.header("x-forwarded-for", xff);
    }
    r.basic_auth(&s.client_id, Some(&s.client_secret))
        .form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
            ("scope", "openid profile offline_access"),
        ])
        .send()
        .await
        .unwrap()
}

async fn grant_types(base: &str) -> Vec<String> {
    let d: Value = reqwest::get(format!("{base}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    serde_json::from_value(d["grant_types_supported"].clone()).unwrap()
}

#[tokio::test]
async fn off_unless_configured() {
    let dir = TempDir::new();
    let s = start(&dir, |_| {}).await;
    assert!(!grant_types(&s.base).await.contains(&"password".to_owned()));
    let r = password_grant(&s, "alice", "alice-password").await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");
    s.stop().await;
}

#[tokio::test]
async fn tokens_for_the_right_password_and_the_login_forms_rate_limits() {
    let dir = TempDir::new();
    // From a TOML file, as an operator would set it.
    let file = dir.0.join("sesame.toml");
    std::fs::write(&file, "password_grant = true\n").unwrap();
    let loaded = Config::load(Some(&file), &Default::default()).unwrap();
    assert!(loaded.password_grant);
    let s = start(&dir, |c| {
        c.password_grant = loaded.password_grant;
        c.rate_limits.login_per_username_per_minute = 2;
        c.rate_limits.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await;
    assert!(grant_types(&s.base).await.contains(&"password".to_owned()));

    let r = password_grant(&s, "alice", "alice-password").await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["refresh_token"].is_string());
    let id_token = body["id_token"].as_str().unwrap();
    let payload = sesame_core::UnverifiedJws::parse(id_token)
        .unwrap()
        .insecure_payload()
        .unwrap();
    let claims: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(claims["sub"], s.subject.as_str());
    assert_eq!(claims["preferred_username"], "alice");

    // A wrong password and an unknown user: the same invalid_grant.
    let wrong: Value = password_grant(&s, "alice", "not-her-password")
        .await
        .json()
        .await
        .unwrap();
    let unknown: Value = password_grant(&s, "mallory", "alice-password")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(wrong["error"], "invalid_grant");
    assert_eq!(wrong, unknown);

    // The login form and the grant share one budget of failures per
    // username (2 a minute here); a correct password never counts.
    for _ in 0..3 {
        assert_eq!(
            password_grant(&s, "alice", "alice-password").await.status(),
            200
        );
    }
    let b = browser();
    let html = b
        .get(format!("{}/login", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden(&html, "csrf_token");
    let r = b
        .post(format!("{}/login", s.base))
        .form(&[
            ("username", "alice"),
            ("password", "guess"),
            ("csrf_token", csrf.as_str()),
            ("return_to", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // alice's second failure this minute: this address, which failed for
    // her, is refused even with her password…
    let r = password_grant(&s, "alice", "alice-password").await;
    assert_eq!(
        r.status(),
        429,
        "alice's third attempt from a failing address"
    );
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    // …while her password from an address with no failures still works.
    let r = password_grant_from(&s, "198.51.100.20", "alice", "alice-password").await;
    assert_eq!(r.status(), 200, "strangers cannot lock alice out");
    s.stop().await;
}

#[tokio::test]
async fn the_environment_turns_it_on_and_the_cli_refuses_public_password_clients() {
    let dir = TempDir::new();
    let db = dir.db();
    let (code, _, err) = sesame(&[
        "--database",
        &db,
        "clients",
        "add",
        "--name",
        "Phone",
        "--redirect-uri",
        "https://phone.example/cb",
        "--public",
        "--grant-type",
        "password",
        "--json",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("confidential"), "{err}");

    let (_running, base) = Running::serve(&db, &[("SESAME_PASSWORD_GRANT", "true")]).await;
    assert!(grant_types(&base).await.contains(&"password".to_owned()));
}

/// Nested keys from the environment (`SESAME_RATE_LIMITS__…`) reach the
/// configuration: a limit of two failed client authentications a minute
/// per address gives a 429 on the third.
#[tokio::test]
async fn nested_keys_from_the_environment_apply() {
    let dir = TempDir::new();
    let db = dir.db();
    let (_running, base) = Running::serve(
        &db,
        &[("SESAME_RATE_LIMITS__TOKEN_FAILURES_PER_IP_PER_MINUTE", "2")],
    )
    .await;
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = http
            .post(format!("{base}/token"))
            .basic_auth("nobody", Some("wrong"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![401, 401, 429], "the limit of 2/min applies");
}
