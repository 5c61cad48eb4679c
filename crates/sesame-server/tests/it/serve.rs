//! `sesame serve`: run() on a real listener, two processes on one PostgreSQL,
//! and SIGTERM during a burst.

use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn health_metrics_issuer_and_login_rate_limit() {
    let dir = TempDir::new();
    let metrics_base = format!("http://127.0.0.1:{}", free_port());
    let metrics_listen = metrics_base.trim_start_matches("http://").to_owned();
    let server = Server::spawn(&dir.db(), |c| {
        c.rate_limits.login_per_username_per_minute = 2;
        c.metrics_listen = Some(metrics_listen);
    })
    .await;
    let base = server.base.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    // The issuer comes from configuration, never from the Host header.
    let d: serde_json::Value = http
        .get(format!("{base}/.well-known/openid-configuration"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], base);
    assert_eq!(d["token_endpoint"], format!("{base}/token"));
    let metrics = http
        .get(format!("{metrics_base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("sesame_http_requests_total"), "{metrics}");
    assert!(metrics.contains("sesame_http_request_duration_seconds"));

    // The login page: security headers, CSRF field, labelled inputs.
    let b = browser();
    let r = b
        .get(format!("{base}/login?return_to=%2F"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let html = r.text().await.unwrap();
    assert!(html.contains("<label for=\"username\">") && html.contains("<label for=\"password\">"));
    let csrf = hidden(&html, "csrf_token");
    // Without the CSRF cookie (another browser), the form is refused.
    let r = http
        .post(format!("{base}/login"))
        .form(&[
            ("username", "x"),
            ("password", "y"),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Per-username ceiling on failures: after 2 this minute, an address that
    // has failed for the name is refused (the login page, 429, Retry-After).
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let html = b
            .get(format!("{base}/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = hidden(&html, "csrf_token");
        let r = b
            .post(format!("{base}/login"))
            .form(&[
                ("username", "victim"),
                ("password", "guess"),
                ("csrf_token", csrf.as_str()),
                ("return_to", "/"),
            ])
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        if status == 429 {
            assert!(r.headers().contains_key("retry-after"));
            let page = r.text().await.unwrap();
            assert!(page.contains("Too many failed sign-in attempts"), "{page}");
        }
        statuses.push(status);
    }
    assert_eq!(statuses, vec![401, 401, 429]);
    // An open redirect through return_to is neutralised.
    let r = b
        .get(format!("{base}/login?return_to=https%3A%2F%2Fevil.example"))
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(!html.contains("evil.example"));
    server.stop().await;
}

/// Metrics are on their own listener only when configured, never on the
/// public one (S24); /healthz stays public.
#[tokio::test]
async fn metrics_are_not_on_the_public_listener() {
    let dir = TempDir::new();
    let server = Server::spawn(&dir.db(), |_| {}).await;
    let r = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn two_serve_processes_on_one_postgres_act_as_one_provider() {
    let Some(base_url) =
        crate::support::pg_url("two_serve_processes_on_one_postgres_act_as_one_provider")
    else {
        return;
    };
    // A fresh schema for this run.
    use sqlx::Connection as _;
    let schema = format!(
        "sesame_srv_{}",
        &sesame_core::random::token()
            .unwrap()
            .to_lowercase()
            .replace(['-', '_'], "")[..12]
    );
    let mut conn = sqlx::PgConnection::connect(&base_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let sep = if base_url.contains('?') { '&' } else { '?' };
    let db = format!("{base_url}{sep}options=-c%20search_path%3D{schema}");
    let key = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";
    let (pa, pb) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{pa}");
    let with_env = |args: &[&str]| {
        std::process::Command::new(BIN)
            .args(args)
            .env("SESAME_ENCRYPTION_KEY", key)
            .output()
            .unwrap()
    };
    let out = with_env(&[
        "--database",
        &db,
        "users",
        "add",
        "--username",
        "pat",
        "--password",
        "pat-password",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = with_env(&[
        "--database",
        &db,
        "clients",
        "add",
        "--name",
        "Two",
        "--redirect-uri",
        "https://rp.example/cb",
        "--skip-consent",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let client: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let spawn =
        |port: u16| Running::serve_on(&db, &issuer, port, &[("SESAME_ENCRYPTION_KEY", key)]);
    let _a = spawn(pa);
    let _b = spawn(pb);
    let (a, bb) = (
        format!("http://127.0.0.1:{pa}"),
        format!("http://127.0.0.1:{pb}"),
    );
    for url in [&a, &bb] {
        wait_healthy(url).await;
    }
    let browser = browser();
    let verifier = sesame_core::CodeVerifier::random().unwrap();
    let challenge = verifier.challenge(sesame_core::PkceMethod::S256);
    let client_id = client["client_id"].as_str().unwrap();
    // The login starts on A …
    let query = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", "https://rp.example/cb"),
        ("scope", "openid profile"),
        ("state", "s1"),
        ("nonce", "n1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let r = browser
        .get(format!("{a}/authorize"))
        .query(&query)
        .send()
        .await
        .unwrap();
    let login = location(&r);
    // … the form is posted to B (the load balancer picked it) …
    let r = submit_login(&browser, &login, &bb, "pat", "pat-password").await;
    assert_eq!(r.status(), 303);
    // … the authorization completes on B (the login session lives in the database) …
    let back = location(&r).replace(&a, &bb);
    let r = browser.get(&back).send().await.unwrap();
    let cb = url::Url::parse(&location(&r)).unwrap();
    let code: String = cb
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    // … and the code is redeemed on A.
    let tokens: serde_json::Value = reqwest::Client::new()
        .post(format!("{a}/token"))
        .basic_auth(client_id, client["client_secret"].as_str())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://rp.example/cb"),
            ("code_verifier", verifier.secret()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(tokens["id_token"].is_string(), "{tokens}");
    let info: serde_json::Value = reqwest::Client::new()
        .get(format!("{bb}/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["preferred_username"], "pat");
    drop((_a, _b));
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut conn)
        .await;
}

#[tokio::test]
async fn sigterm_during_a_token_burst_loses_nothing() {
    let dir = TempDir::new();
    let db = dir.db();
    let out = std::process::Command::new(BIN)
        .args([
            "--database",
            &db,
            "clients",
            "add",
            "--name",
            "Burst",
            "--redirect-uri",
            "https://rp.example/cb",
            "--grant-type",
            "client_credentials",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let client: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (mut server, base) = Running::serve(&db, &[]).await;
    let pid = server.child.id();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let id = client["client_id"].as_str().unwrap().to_owned();
    let secret = client["client_secret"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (http, base, id, secret) = (http.clone(), base.clone(), id.clone(), secret.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut other, mut refused) = (0u32, 0u32, 0u32);
            // Until the shutdown refuses this task (a fixed count finished
            // before the signal once the server got faster), at most 20,000.
            for _ in 0..20_000 {
                match http
                    .post(format!("{base}/token"))
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => {
                        // The body must be complete JSON.
                        let v: serde_json::Value = r.json().await.expect("a complete body");
                        assert!(v["access_token"].is_string());
                        ok += 1;
                    }
                    Ok(_) => other += 1,
                    // After shutdown: a clean connection error, never a hang.
                    Err(e) => {
                        assert!(!e.is_timeout(), "request {i} hung: {e}");
                        refused += 1;
                        break;
                    }
                }
            }
            (ok, other, refused)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let mut ok = 0;
    let mut refused = 0;
    for t in tasks {
        let (o, _other, r) = t.await.unwrap();
        ok += o;
        refused += r;
    }
    let status = server.child.wait().unwrap();
    assert!(status.success(), "graceful exit: {status:?}");
    assert!(
        ok > 0 && refused > 0,
        "the burst straddled the shutdown: ok={ok} refused={refused}"
    );
    // Every answered token is in the database, and nothing else is.
    use sqlx::Connection as _;
    let mut conn = sqlx::SqliteConnection::connect(&db).await.unwrap();
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sesame_access_tokens")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        rows,
        i64::from(ok),
        "rows in the database = tokens answered"
    );
}
