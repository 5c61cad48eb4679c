//! The real `sesame demo` binary, clicked through over HTTP with a cookie-keeping client:
//! app → provider login form → consent → the app shows the claims → logout through
//! the provider → the app is logged out.

use crate::support::*;

#[tokio::test]
async fn demo_end_to_end_login_consent_claims_logout() {
    let dir = TempDir::new();
    let data = dir.0.display().to_string();
    let demo = Running::start(
        &[
            "demo",
            "--data-dir",
            &data,
            "--port",
            "0",
            "--app-port",
            "0",
        ],
        "Press Ctrl-C",
    );
    let app = demo
        .line_with("Demo app:")
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_owned();
    let provider = demo
        .line_with("Provider:")
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    let creds = demo.line_with("Sign in as").to_owned();
    let password = creds.split_whitespace().last().unwrap().to_owned();
    assert!(creds.contains("username: demo"));

    let b = browser();
    // The app's home page offers a login.
    let home = b
        .get(format!("{app}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Log in"));
    // App → provider authorize → provider login page.
    let r = b.get(format!("{app}/login")).send().await.unwrap();
    let authorize = location(&r);
    assert!(authorize.starts_with(&format!("{provider}/authorize?")));
    let r = b.get(&authorize).send().await.unwrap();
    let login_url = location(&r);
    assert!(login_url.starts_with(&format!("{provider}/login?")));
    let page = b.get(&login_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("name=\"username\"") && html.contains("name=\"password\""));
    let csrf = hidden(&html, "csrf_token");
    let return_to = hidden(&html, "return_to")
        .replace("&amp;", "&")
        .replace("&#x2f;", "/");

    // A wrong password is refused.
    let r = b
        .post(format!("{provider}/login"))
        .form(&[
            ("username", "demo"),
            ("password", "wrong-password"),
            ("csrf_token", csrf.as_str()),
            ("return_to", return_to.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let html = r.text().await.unwrap();
    let csrf = hidden(&html, "csrf_token");
    // The right one signs in and returns to the authorization request.
    let r = b
        .post(format!("{provider}/login"))
        .form(&[
            ("username", "demo"),
            ("password", password.as_str()),
            ("csrf_token", csrf.as_str()),
            ("return_to", return_to.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let back = absolute(&provider, &location(&r));
    assert!(
        back.starts_with(&format!("{provider}/authorize?")),
        "{back}"
    );
    // Consent page: names the app, has allow/deny and a CSRF token.
    let r = b.get(&back).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Sesame demo app") && html.contains("name=\"allow\""));
    let r = b
        .post(format!("{provider}/consent"))
        .form(&[
            ("interaction", hidden(&html, "interaction")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("allow", "1".into()),
        ])
        .send()
        .await
        .unwrap();
    let callback = location(&r);
    assert!(
        callback.starts_with(&format!("{app}/callback?")),
        "{callback}"
    );
    let r = b.get(&callback).send().await.unwrap();
    assert_eq!(location(&r), "/");
    // The app shows the user's claims.
    let home = b
        .get(format!("{app}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("Demo User"), "{home}");
    assert!(home.contains("demo@example.com"));
    let me: serde_json::Value = b
        .get(format!("{app}/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["claims"]["preferred_username"], "demo");
    assert_eq!(me["claims"]["email_verified"], true);

    // Logout through the provider.
    let csrf = hidden(&home, "csrf_token");
    let r = b
        .post(format!("{app}/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let end_session = location(&r);
    assert!(end_session.starts_with(&format!("{provider}/end_session?")));
    let r = b.get(&end_session).send().await.unwrap();
    // Back with the logout's state (RP-Initiated Logout 1.0), which the app checks.
    let back = location(&r);
    assert!(back.starts_with(&format!("{app}/?state=")), "{back}");
    let me = b.get(format!("{app}/me")).send().await.unwrap();
    assert_eq!(me.status(), 401);
    let home = b.get(&back).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("Log in"));
    assert!(home.contains("You have been signed out."), "{home}");
    // Logged out at the provider too: a new login asks for the password again.
    let r = b.get(format!("{app}/login")).send().await.unwrap();
    let r = b.get(location(&r)).send().await.unwrap();
    assert!(location(&r).starts_with(&format!("{provider}/login?")));
}
