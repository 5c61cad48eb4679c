//! Dynamic client registration in `sesame serve` (issue 13): `registration`
//! off (default), open, or token with initial access tokens from the CLI;
//! rate limited per address.

use serde_json::{Value, json};

use crate::support::*;

async fn register(base: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut r = reqwest::Client::new()
        .post(format!("{base}/register"))
        .json(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

async fn discovery(base: &str) -> Value {
    reqwest::get(format!("{base}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn metadata() -> Value {
    json!({"redirect_uris": ["https://rp.example/cb"], "client_name": "Dynamic"})
}

#[tokio::test]
async fn registration_is_off_by_default() {
    let dir = TempDir::new();
    let (_server, base) = Running::serve(&dir.db(), &[]).await;
    assert!(
        discovery(&base)
            .await
            .get("registration_endpoint")
            .is_none()
    );
    assert_eq!(register(&base, None, &metadata()).await.status(), 404);
}

#[tokio::test]
async fn token_mode_takes_initial_access_tokens_from_the_cli_until_they_expire() {
    let dir = TempDir::new();
    let db = dir.db();
    let (_server, base) = Running::serve(&db, &[("SESAME_REGISTRATION", "token")]).await;
    assert_eq!(
        discovery(&base).await["registration_endpoint"],
        format!("{base}/register")
    );
    let issue = |ttl: &str| {
        let (code, out, err) = sesame(&[
            "--database",
            db.as_str(),
            "clients",
            "initial-access-token",
            "--ttl",
            ttl,
            "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        v["token"].as_str().unwrap().to_owned()
    };
    let token = issue("3600");
    let short = issue("1");

    // Without a token: a Bearer challenge; with one never issued: invalid_token.
    let r = register(&base, None, &metadata()).await;
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let r = register(&base, Some("not-a-token"), &metadata()).await;
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("invalid_token"), "{challenge}");
    // With an issued one: a client, which then reads itself (RFC 7592).
    let r = register(&base, Some(&token), &metadata()).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert!(v["client_id"].as_str().is_some_and(|s| !s.is_empty()));
    let read = reqwest::Client::new()
        .get(v["registration_client_uri"].as_str().unwrap())
        .bearer_auth(v["registration_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    // The Dynamic plan's rule: a redirect URI with a fragment is refused.
    let r = register(
        &base,
        Some(&token),
        &json!({"redirect_uris": ["https://rp.example/cb#frag"]}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"], "invalid_redirect_uri");
    // The short-lived token stops working once it expires.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        register(&base, Some(&short), &metadata()).await.status(),
        401
    );
    assert_eq!(
        register(&base, Some(&token), &metadata()).await.status(),
        201
    );
    // A bad lifetime is one clear line.
    let (code, _, err) = sesame(&[
        "--database",
        db.as_str(),
        "clients",
        "initial-access-token",
        "--ttl",
        "0",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("--ttl"), "{err}");
}

#[tokio::test]
async fn open_mode_registers_without_a_token_and_is_rate_limited_per_address() {
    let dir = TempDir::new();
    let (_server, base) = Running::serve(
        &dir.db(),
        &[
            ("SESAME_REGISTRATION", "open"),
            ("SESAME_RATE_LIMITS__REGISTER_PER_IP_PER_MINUTE", "3"),
        ],
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(register(&base, None, &metadata()).await.status().as_u16());
    }
    assert_eq!(&statuses[..3], &[201, 201, 201], "{statuses:?}");
    assert_eq!(statuses[4], 429, "{statuses:?}");
    // The token endpoint is not limited by it.
    let r = reqwest::Client::new()
        .post(format!("{base}/token"))
        .form(&[("grant_type", "authorization_code")])
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 429);
}
