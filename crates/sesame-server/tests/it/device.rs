//! The device flow through a real `sesame serve`: a client added with
//! `--grant-type urn:ietf:params:oauth:grant-type:device_code`, the
//! verification page `/device` (form and CSRF), the built-in login and
//! consent, polling, and the per-address limit on wrong codes.

use serde_json::Value;

use crate::support::*;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A server with user dana and a public device client: (dir, server, base, client id).
async fn serve() -> (TempDir, Running, String, String) {
    let dir = TempDir::new();
    let db = dir.db();
    let (code, _, err) = sesame(&[
        "--database",
        &db,
        "users",
        "add",
        "--username",
        "dana",
        "--password",
        "dana-password",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = sesame(&[
        "--database",
        &db,
        "clients",
        "add",
        "--name",
        "Kitchen TV",
        "--public",
        "--grant-type",
        DEVICE_GRANT,
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let client: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(client["client_secret"].is_null());
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let (server, base) = Running::serve(&db, &[]).await;
    (dir, server, base, client_id)
}

async fn start(base: &str, client_id: &str) -> Value {
    let r = reqwest::Client::new()
        .post(format!("{base}/device_authorization"))
        .form(&[("client_id", client_id), ("scope", "openid profile")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn poll(base: &str, client_id: &str, device_code: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", client_id),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// GETs the code form at `url` and posts it with `code` (or the pre-filled one).
async fn submit(
    b: &reqwest::Client,
    base: &str,
    url: &str,
    code: Option<&str>,
) -> reqwest::Response {
    let html = b.get(url).send().await.unwrap().text().await.unwrap();
    let csrf = hidden(&html, "csrf_token");
    let typed = code.map_or_else(|| hidden(&html, "user_code"), str::to_owned);
    b.post(format!("{base}/device"))
        .form(&[("user_code", typed.as_str()), ("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_device_signs_in_through_the_verification_page() {
    let (_dir, _server, base, client_id) = serve().await;
    let d = start(&base, &client_id).await;
    let device_code = d["device_code"].as_str().unwrap();
    assert_eq!(d["verification_uri"], format!("{base}/device"));
    let (status, v) = poll(&base, &client_id, device_code).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("authorization_pending"))
    );

    let b = browser();
    let complete = d["verification_uri_complete"].as_str().unwrap();
    let form = b.get(complete).send().await.unwrap();
    assert_eq!(form.status(), 200);
    assert!(
        form.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("HttpOnly"),
        "the CSRF cookie"
    );
    let html = form.text().await.unwrap();
    assert!(html.contains("Connect a device"), "{html}");
    assert_eq!(hidden(&html, "user_code"), d["user_code"].as_str().unwrap());

    // A post without the page's CSRF token is refused.
    let r = b
        .post(format!("{base}/device"))
        .form(&[
            ("user_code", d["user_code"].as_str().unwrap()),
            ("csrf_token", "forged"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // The code, typed loosely, then the built-in login.
    let loose = d["user_code"].as_str().unwrap().to_lowercase();
    let r = submit(&b, &base, complete, Some(&loose)).await;
    assert_eq!(r.status(), 303);
    let login = absolute(&base, &location(&r));
    assert!(login.contains("/login?"), "{login}");
    let login_html = b.get(&login).send().await.unwrap().text().await.unwrap();
    assert!(
        login_html.contains("Kitchen TV"),
        "the login page names the client"
    );
    let r = submit_login(&b, &login, &base, "dana", "dana-password").await;
    let back = absolute(&base, &location(&r));
    assert!(back.starts_with(&format!("{base}/device?")), "{back}");
    let consent = b.get(&back).send().await.unwrap();
    assert_eq!(consent.status(), 200);
    let html = consent.text().await.unwrap();
    assert!(html.contains("Kitchen TV"));
    assert!(
        html.contains(d["user_code"].as_str().unwrap()),
        "the code to check"
    );
    let done = b
        .post(format!("{base}/device/consent"))
        .form(&[
            ("interaction", hidden(&html, "interaction").as_str()),
            ("csrf_token", hidden(&html, "csrf_token").as_str()),
            ("allow", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("You may return to your device")
    );

    // A device keeps to the interval (5 s) since its last poll; a faster
    // poll would be told slow_down.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let tokens = poll(&base, &client_id, device_code).await;
    assert_eq!(tokens.0, 200, "{}", tokens.1);
    assert!(tokens.1["id_token"].is_string());
    let info: Value = reqwest::Client::new()
        .get(format!("{base}/userinfo"))
        .bearer_auth(tokens.1["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(info["sub"].is_string());
    let (status, v) = poll(&base, &client_id, device_code).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "single use"
    );
}

#[tokio::test]
async fn wrong_codes_are_limited_per_address() {
    let (_dir, _server, base, client_id) = serve().await;
    let d = start(&base, &client_id).await;
    let b = browser();
    let url = format!("{base}/device");
    // The default limit: 10 wrong codes a minute from one address.
    for i in 0..10 {
        let r = submit(&b, &base, &url, Some("BBBB-BBBB")).await;
        assert_eq!(r.status(), 400, "attempt {i}");
        assert!(r.text().await.unwrap().contains("unknown or has expired"));
    }
    // Then even the right code is refused until the minute ends.
    let r = submit(&b, &base, &url, d["user_code"].as_str()).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
}
