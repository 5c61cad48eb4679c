//! The login page: what it prints and which origins its CSP lets the form
//! reach (S16), and its body limit (L3).

use crate::support::*;

fn csp(r: &reqwest::Response) -> String {
    r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_client_name_and_csp_origin_come_only_from_a_registered_client() {
    let dir = TempDir::new();
    let db = dir.db();
    let (code, out, err) = sesame(&[
        "--database",
        &db,
        "clients",
        "add",
        "--name",
        "Real Payroll",
        "--redirect-uri",
        "https://rp.example/cb",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let client: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = client["client_id"].as_str().unwrap();
    let server = Server::spawn(&db, |_| {}).await;
    let base = &server.base;
    let b = browser();
    let login = |return_to: String, extra: &'static str| {
        let b = b.clone();
        let base = base.clone();
        async move {
            b.get(format!("{base}/login"))
                .query(&[("return_to", return_to.as_str())])
                .query(&[("client", extra)])
                .send()
                .await
                .unwrap()
        }
    };
    let authorize = |client_id: &str, redirect: &str| {
        let q = serde_urlencoded::to_string([
            ("client_id", client_id),
            ("redirect_uri", redirect),
            ("response_type", "code"),
        ])
        .unwrap();
        format!("{base}/authorize?{q}")
    };
    // (a) Text in the query is never printed.
    let r = login("/".into(), "Acme Payroll (official)").await;
    let html = r.text().await.unwrap();
    assert!(!html.contains("Acme Payroll"), "{html}");
    // An unknown client_id: no name, no widened CSP.
    let r = login(authorize("nobody", "https://evil.example/"), "x").await;
    assert!(!csp(&r).contains("evil.example"), "{}", csp(&r));
    // (b) A registered client with a redirect_uri that is not registered for it.
    let r = login(authorize(id, "https://evil.example/"), "x").await;
    assert!(!csp(&r).contains("evil.example"), "{}", csp(&r));
    // The registered client and redirect URI: its name, its origin.
    let r = login(authorize(id, "https://rp.example/cb"), "x").await;
    assert!(
        csp(&r).contains("form-action 'self' https://rp.example;"),
        "{}",
        csp(&r)
    );
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Sign in to continue to Real Payroll"),
        "{html}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_login_body_over_64_kib_is_refused_with_413() {
    let dir = TempDir::new();
    let server = Server::spawn(&dir.db(), |_| {}).await;
    let big = format!("username=u&password={}", "p".repeat(100 * 1024));
    let r = reqwest::Client::new()
        .post(format!("{}/login", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // A normal form still gets its answer (the CSRF check).
    let r = reqwest::Client::new()
        .post(format!("{}/login", server.base))
        .form(&[("username", "u"), ("password", "p")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    server.stop().await;
}
