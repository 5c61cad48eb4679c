//! The account page (`/account`) on an in-process server whose clock the
//! test moves: a stale sign-in cannot change sign-in methods, forms need
//! their CSRF token, the password change checks the current password and
//! ends the other sessions, TOTP set-up keeps nothing until a right first
//! code (which then cannot sign in again), an app's revocation ends its
//! tokens, and signing out everywhere ends every browser's session.

use std::sync::Arc;

use serde_json::Value;
use sesame_core::{Clock as _, SystemClock, TestClock};

use crate::support::*;

const PASSWORD: &str = "correct horse battery";
const REDIRECT: &str = "https://rp.example/cb";

struct Op {
    base: String,
    clock: TestClock,
    accounts: sesame_server::accounts::Accounts,
    client: (String, String),
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: TempDir,
}

async fn op() -> Op {
    let dir = TempDir::new();
    let db = dir.db();
    for u in ["alice", "bob"] {
        let (code, _, err) = sesame(&[
            "--database",
            &db,
            "users",
            "add",
            "--username",
            u,
            "--password",
            PASSWORD,
        ]);
        assert_eq!(code, 0, "{err}");
    }
    let (code, out, err) = sesame(&[
        "--database",
        &db,
        "clients",
        "add",
        "--name",
        "Wiki",
        "--redirect-uri",
        REDIRECT,
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let c: Value = serde_json::from_str(&out).unwrap();
    let client = (
        c["client_id"].as_str().unwrap().to_owned(),
        c["client_secret"].as_str().unwrap().to_owned(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://localhost:{port}");
    let config = sesame_server::Config {
        issuer: base.clone(),
        database: db,
        ..sesame_server::Config::default()
    };
    let store = Arc::new(sesame_server::store::open(&config).await.unwrap());
    let clock = TestClock::at(SystemClock.now());
    let built =
        sesame_server::server::build_with(&config, Arc::clone(&store), Arc::new(clock.clone()))
            .await
            .unwrap();
    let accounts = built.accounts.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(sesame_server::server::serve(built, listener, async move {
        let _ = rx.await;
    }));
    wait_healthy(&format!("http://127.0.0.1:{port}")).await;
    Op {
        base,
        clock,
        accounts,
        client,
        _stop: tx,
        _dir: dir,
    }
}

/// A browser signed in as `username`: it and its account page's CSRF token.
async fn signed_in(op: &Op, username: &str, password: &str) -> (reqwest::Client, String) {
    let b = browser();
    let login = format!("{}/login?return_to=%2Faccount", op.base);
    let r = submit_login(&b, &login, &op.base, username, password).await;
    assert_eq!(r.status(), 303, "{username} signs in");
    let csrf = account_csrf(op, &b).await;
    (b, csrf)
}

async fn account_csrf(op: &Op, b: &reqwest::Client) -> String {
    let r = b.get(format!("{}/account", op.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    hidden(&r.text().await.unwrap(), "csrf_token")
}

async fn post(
    op: &Op,
    b: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    b.post(format!("{}{path}", op.base))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Whether `b`'s account page shows (else it is sent to the login page).
async fn at_account(op: &Op, b: &reqwest::Client) -> bool {
    b.get(format!("{}/account", op.base))
        .send()
        .await
        .unwrap()
        .status()
        == 200
}

async fn subject(op: &Op, username: &str) -> String {
    op.accounts
        .find_user(username)
        .await
        .unwrap()
        .unwrap()
        .subject
}

#[tokio::test]
async fn a_stale_sign_in_cannot_change_sign_in_methods() {
    let op = op().await;
    let (b, csrf) = signed_in(&op, "alice", PASSWORD).await;
    op.clock.advance(11 * 60);
    let html = b
        .get(format!("{}/account", op.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("sign in again"), "the page says why");
    let r = post(&op, &b, "/account/totp/start", &[("csrf_token", &csrf)]).await;
    assert_eq!(r.status(), 403);
    assert!(!r.text().await.unwrap().contains("totp-secret"));
    let r = b
        .post(format!("{}/account/passkeys/options", op.base))
        .header("x-sesame-csrf", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no passkey options for a stale sign-in");
    let r = post(
        &op,
        &b,
        "/account/passkeys/remove",
        &[("csrf_token", &csrf), ("id", "AAAAAAAAAAAAAAAAAAAAAA")],
    )
    .await;
    assert_eq!(r.status(), 403, "removing a passkey needs a fresh sign-in");
    // A password change does not make the session fresh (it proves no
    // second factor): the replacement keeps the old sign-in's time.
    let r = post(
        &op,
        &b,
        "/account/password",
        &[
            ("csrf_token", &csrf),
            ("current_password", PASSWORD),
            ("new_password", "another long one"),
            ("confirm_password", "another long one"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let r = post(&op, &b, "/account/totp/start", &[("csrf_token", &csrf)]).await;
    assert_eq!(r.status(), 403, "still stale after the password change");
    // Signing in again makes it fresh.
    let (b, csrf) = signed_in(&op, "alice", "another long one").await;
    let r = post(&op, &b, "/account/totp/start", &[("csrf_token", &csrf)]).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("totp-secret") && html.contains("<svg"),
        "the QR code"
    );
}

#[tokio::test]
async fn account_forms_need_their_csrf_token() {
    let op = op().await;
    let (b, csrf) = signed_in(&op, "alice", PASSWORD).await;
    for path in [
        "/account/sign-out-everywhere",
        "/account/totp/start",
        "/account/password",
        "/account/apps/revoke",
        "/account/passkeys/remove",
    ] {
        let r = post(&op, &b, path, &[("csrf_token", "forged")]).await;
        assert_eq!(r.status(), 403, "{path}");
    }
    assert!(at_account(&op, &b).await, "still signed in");
    let r = post(
        &op,
        &b,
        "/account/sign-out-everywhere",
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(r.status(), 303);
    // Not signed in: the account page sends the browser to sign in.
    let r = b.get(format!("{}/account", op.base)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(location(&r).contains("/login?return_to=%2Faccount"));
}

#[tokio::test]
async fn the_password_change_checks_the_current_one_and_ends_other_sessions() {
    let op = op().await;
    let (b, csrf) = signed_in(&op, "alice", PASSWORD).await;
    let (other, _) = signed_in(&op, "alice", PASSWORD).await;
    let change = |current: &'static str, new: &'static str, confirm: &'static str| {
        [
            ("csrf_token", csrf.clone()),
            ("current_password", current.to_owned()),
            ("new_password", new.to_owned()),
            ("confirm_password", confirm.to_owned()),
        ]
    };
    let r = b
        .post(format!("{}/account/password", op.base))
        .form(&change(
            "wrong password",
            "new password 1",
            "new password 1",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a wrong current password");
    let r = b
        .post(format!("{}/account/password", op.base))
        .form(&change(PASSWORD, "new password 1", "new password 2"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "two different new passwords");
    let r = b
        .post(format!("{}/account/password", op.base))
        .form(&change(PASSWORD, "short", "short"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "too short");
    assert!(at_account(&op, &other).await, "nothing changed yet");
    let r = b
        .post(format!("{}/account/password", op.base))
        .form(&change(PASSWORD, "new password 1", "new password 1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(location(&r).ends_with("/account?done=password"));
    assert!(at_account(&op, &b).await, "this browser is signed in again");
    assert!(!at_account(&op, &other).await, "the other session ended");
    let login = format!("{}/login?return_to=%2Faccount", op.base);
    let r = submit_login(&browser(), &login, &op.base, "alice", PASSWORD).await;
    assert_eq!(r.status(), 401, "the old password");
    let r = submit_login(&browser(), &login, &op.base, "alice", "new password 1").await;
    assert_eq!(r.status(), 303, "the new password");
}

#[tokio::test]
async fn totp_set_up_keeps_nothing_until_a_right_code_which_then_is_spent() {
    let op = op().await;
    let (b, csrf) = signed_in(&op, "alice", PASSWORD).await;
    let alice = subject(&op, "alice").await;
    let r = post(&op, &b, "/account/totp/start", &[("csrf_token", &csrf)]).await;
    let enrol_cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sesame_totp_enrol="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = r.text().await.unwrap();
    let secret = html
        .split("id=\"totp-secret\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_owned();
    assert!(
        op.accounts.totp_secret(&alice).await.unwrap().is_none(),
        "not before a code"
    );
    let r = post(
        &op,
        &b,
        "/account/totp",
        &[("csrf_token", &csrf), ("totp", "000000")],
    )
    .await;
    assert_eq!(r.status(), 400, "a wrong code");
    assert!(op.accounts.totp_secret(&alice).await.unwrap().is_none());

    // Bob posting Alice's set-up (her cookie copied over) enrols nobody.
    let (bob, bob_csrf) = crate::passkeys::raw_account(&op.base, "bob").await;
    let code = totp_code_now(&secret);
    let r = crate::passkeys::raw()
        .post(format!("{}/account/totp", op.base))
        .header("cookie", format!("{bob}; {enrol_cookie}"))
        .form(&[("csrf_token", bob_csrf.as_str()), ("totp", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "Alice's secret does not open for Bob");
    assert!(r.text().await.unwrap().contains("The set-up expired"));
    let bob_subject = subject(&op, "bob").await;
    assert!(
        op.accounts
            .totp_secret(&bob_subject)
            .await
            .unwrap()
            .is_none()
    );

    let r = post(
        &op,
        &b,
        "/account/totp",
        &[("csrf_token", &csrf), ("totp", &code)],
    )
    .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Your recovery codes"), "{html}");
    assert_eq!(html.matches("<li>").count(), 10);
    assert_eq!(
        op.accounts.totp_secret(&alice).await.unwrap().as_deref(),
        Some(secret.as_str())
    );

    // The code that confirmed the set-up does not also sign in.
    let s = browser();
    let login = format!("{}/login?return_to=%2Faccount", op.base);
    let r = submit_login(&s, &login, &op.base, "alice", PASSWORD).await;
    assert_eq!(r.status(), 200, "the code page");
    let page = r.text().await.unwrap();
    let r = s
        .post(format!("{}/login/totp", op.base))
        .form(&[
            ("csrf_token", hidden(&page, "csrf_token").as_str()),
            ("return_to", "/account"),
            ("totp", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the set-up's code is spent");
}

#[tokio::test]
async fn revoking_an_app_ends_its_tokens_and_signing_out_everywhere_ends_sessions() {
    let op = op().await;
    let (b, csrf) = signed_in(&op, "alice", PASSWORD).await;
    let (client_id, secret) = &op.client;
    // Alice allows the app (consent page), which gets tokens.
    let r = b
        .get(format!("{}/authorize", op.base))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "openid offline_access"),
            ("prompt", "consent"),
            ("nonce", "n"),
        ])
        .send()
        .await
        .unwrap();
    let html = if r.status() == 200 {
        r.text().await.unwrap()
    } else {
        b.get(absolute(&op.base, &location(&r)))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let r = b
        .post(format!("{}/consent", op.base))
        .form(&[
            ("interaction", hidden(&html, "interaction")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("allow", "1".into()),
        ])
        .send()
        .await
        .unwrap();
    let callback = url::Url::parse(&location(&r)).unwrap();
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens: Value = reqwest::Client::new()
        .post(format!("{}/token", op.base))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let userinfo = |token: String| {
        let url = format!("{}/userinfo", op.base);
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(userinfo(access.clone()).await, 200);
    let page = b
        .get(format!("{}/account", op.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Wiki"), "the app is listed");

    let r = post(
        &op,
        &b,
        "/account/apps/revoke",
        &[("csrf_token", &csrf), ("client_id", client_id)],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        userinfo(access).await,
        401,
        "the app's access token was revoked"
    );
    let refreshed = reqwest::Client::new()
        .post(format!("{}/token", op.base))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                tokens["refresh_token"].as_str().unwrap_or("none"),
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 400, "and its refresh token");
    let page = b
        .get(format!("{}/account", op.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("Wiki"), "no longer listed");

    // Sign out everywhere: every browser of Alice's, Bob's untouched.
    let (other, _) = signed_in(&op, "alice", PASSWORD).await;
    let (bob, _) = signed_in(&op, "bob", PASSWORD).await;
    let r = post(
        &op,
        &b,
        "/account/sign-out-everywhere",
        &[("csrf_token", &csrf)],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert!(!at_account(&op, &b).await);
    assert!(!at_account(&op, &other).await);
    assert!(at_account(&op, &bob).await);
}
