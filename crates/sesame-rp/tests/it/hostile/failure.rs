//! A failed sign-in answers a page of its own (issue 14): 4xx, escaped, with
//! a link home, nothing of the response in it; `login_failed` redirects on request.

use super::*;

/// The state of a login started in the rig's browser.
async fn started_state(rig: &Rig) -> String {
    let r = rig
        .browser
        .get(format!("{}/login?next=/", rig.rp))
        .send()
        .await
        .unwrap();
    let auth = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    auth.query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned()
}

/// The failure page's checks; its body.
async fn failure_page(r: reqwest::Response, status: u16) -> String {
    assert_eq!(r.status(), status);
    let h = r.headers();
    assert!(h.get("location").is_none(), "no redirect");
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["cache-control"], "no-store");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("<h1>Sign-in failed</h1>"), "{html}");
    assert!(
        html.contains("<a href=\"/\">Home</a>"),
        "a link home: {html}"
    );
    html
}

#[tokio::test]
async fn a_forged_state_gets_the_failure_page() {
    let rig = rig(|_| {}, |b| b).await;
    started_state(&rig).await;
    let r = rig
        .browser
        .get(format!(
            "{}/callback?code=the-code&state=forged-state-value",
            rig.rp
        ))
        .send()
        .await
        .unwrap();
    let html = failure_page(r, 400).await;
    assert!(html.contains("invalid_request"), "{html}");
    assert!(
        !html.contains("forged-state-value"),
        "nothing of the response: {html}"
    );
    assert!(!rig.signed_in().await);
    assert_eq!(rig.fake.token_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_tampered_id_token_gets_the_failure_page() {
    // Signed with a key the provider never published, under its published kid.
    let rig = rig(
        |f| {
            *f.sign.lock().unwrap() = Sign::Key(2);
            let kid = f.pool[0].kid().to_owned();
            *f.edit.lock().unwrap() = Arc::new(move |c, h| {
                h["kid"] = json!(kid);
                c["name"] = json!("<script>alert(1)</script>");
            });
        },
        |b| b,
    )
    .await;
    let html = failure_page(rig.login().await, 400).await;
    assert!(html.contains("invalid_token"), "{html}");
    for leaked in [
        "eyJ",
        "victim",
        "<script>",
        "script&gt;",
        "the-code",
        "at-1",
    ] {
        assert!(!html.contains(leaked), "{leaked} in {html}");
    }
    assert!(!rig.signed_in().await);
    assert_eq!(rig.fake.userinfo_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_provider_error_is_escaped_on_the_failure_page() {
    let rig = rig(|_| {}, |b| b).await;
    let state = started_state(&rig).await;
    let r = rig
        .browser
        .get(format!("{}/callback", rig.rp))
        .query(&[
            ("error", "<b>access_denied</b>"),
            ("error_description", "<script>alert(1)</script>"),
            ("state", state.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let html = failure_page(r, 401).await;
    assert!(
        !html.contains("<b>") && !html.contains("<script>"),
        "{html}"
    );
    assert!(!html.contains("alert(1)"), "no provider text: {html}");
    // A spec error code is named.
    let state = started_state(&rig).await;
    let r = rig
        .browser
        .get(format!("{}/callback", rig.rp))
        .query(&[("error", "access_denied"), ("state", state.as_str())])
        .send()
        .await
        .unwrap();
    let html = failure_page(r, 401).await;
    assert!(html.contains("<code>access_denied</code>"), "{html}");
}

#[tokio::test]
async fn with_login_failed_redirect_a_failure_is_the_old_303() {
    let rig = rig(
        |f| *f.sign.lock().unwrap() = Sign::Key(2),
        |b| b.with_login_failed_redirect("/"),
    )
    .await;
    started_state(&rig).await;
    let r = rig
        .browser
        .get(format!("{}/callback?code=the-code&state=forged", rig.rp))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/?error=invalid_request");
    // A tampered ID token: the whole way, ending on the home page.
    let (r, seen) = follow(
        &rig.browser,
        &format!("{}/login?next=/account", rig.rp),
        "x",
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(
        seen.last().unwrap().ends_with("/?error=invalid_token"),
        "{seen:?}"
    );
    assert!(!rig.signed_in().await);
}
