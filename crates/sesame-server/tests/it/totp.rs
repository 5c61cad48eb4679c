//! TOTP as the second sign-in step (RFC 6238): enrolment from the CLI, the
//! code page after the password, `amr`/`acr` in the ID token, and every
//! refusal — a wrong code, a replayed code, a spent recovery code, a pending
//! login used twice, too many wrong codes.

use base64::Engine as _;
use serde_json::Value;

use crate::support::*;

const PASSWORD: &str = "correct horse battery";
const REDIRECT: &str = "https://rp.example/cb";

struct Setup {
    dir: TempDir,
    db: String,
    client: (String, String),
}

fn setup(users: &[&str]) -> Setup {
    let dir = TempDir::new();
    let db = dir.db();
    for u in users {
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
        "RP",
        "--redirect-uri",
        REDIRECT,
        "--skip-consent",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let c: Value = serde_json::from_str(&out).unwrap();
    let client = (
        c["client_id"].as_str().unwrap().to_owned(),
        c["client_secret"].as_str().unwrap().to_owned(),
    );
    Setup { dir, db, client }
}

/// `sesame users totp --username U --json`.
fn enrol(db: &str, username: &str) -> Value {
    let (code, out, err) = sesame(&[
        "--database",
        db,
        "users",
        "totp",
        "--username",
        username,
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// A browser on its way to sign in: the authorize request sent, the
/// password posted. The answer to the password.
async fn password_step(
    base: &str,
    b: &reqwest::Client,
    client_id: &str,
    username: &str,
) -> reqwest::Response {
    let r = b
        .get(format!("{base}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("nonce", "n"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let login = absolute(base, &location(&r));
    submit_login(b, &login, base, username, PASSWORD).await
}

/// Posts `code` on the code page `page` (its HTML).
async fn code_step(base: &str, b: &reqwest::Client, page: &str, code: &str) -> reqwest::Response {
    let return_to = hidden(page, "return_to")
        .replace("&amp;", "&")
        .replace("&#x2f;", "/");
    b.post(format!("{base}/login/totp"))
        .form(&[
            ("totp", code),
            ("csrf_token", hidden(page, "csrf_token").as_str()),
            ("return_to", return_to.as_str()),
        ])
        .send()
        .await
        .unwrap()
}

/// After the second step's redirect: the code, redeemed; the ID token's claims.
async fn id_token_after(
    base: &str,
    b: &reqwest::Client,
    signed_in: reqwest::Response,
    (id, secret): (&str, &str),
) -> Value {
    assert_eq!(signed_in.status(), 303);
    let r = b
        .get(absolute(base, &location(&signed_in)))
        .send()
        .await
        .unwrap();
    let cb = url::Url::parse(&location(&r)).unwrap();
    let code = cb
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap_or_else(|| panic!("no code at {cb}"))
        .1
        .into_owned();
    let t: Value = reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            (
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwt = t["id_token"].as_str().unwrap_or_else(|| panic!("{t}"));
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_totp_user_signs_in_with_a_code_once_and_a_recovery_code_once() {
    let s = setup(&["pia", "plain"]);
    let e = enrol(&s.db, "pia");
    let secret = e["secret"].as_str().unwrap();
    assert!(
        e["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/"),
        "{e}"
    );
    assert!(
        e["otpauth_uri"]
            .as_str()
            .unwrap()
            .contains(&format!("secret={secret}")),
        "{e}"
    );
    let recovery: Vec<String> = e["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    let server = Server::spawn(&s.db, |_| {}).await;
    let base = &server.base;
    let client = (s.client.0.as_str(), s.client.1.as_str());

    // The password alone is not a session: the code page comes, with the
    // form field `totp`, and no session cookie is given yet.
    let b = browser();
    let r = password_step(base, &b, client.0, "pia").await;
    assert_eq!(r.status(), 200);
    assert!(
        !r.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("sesame_session="))
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("name=\"totp\""), "{page}");
    let me = b
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !me.contains("pia"),
        "signed in before the second step: {me}"
    );

    // A wrong code: refused, the page again.
    let wrong = if totp_code_now(secret) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let r = code_step(base, &b, &page, wrong).await;
    assert_eq!(r.status(), 401);
    let page = r.text().await.unwrap();
    assert!(page.contains("not right"), "{page}");

    // The right code: a session, and the ID token says how.
    let code = totp_code_now(secret);
    let r = code_step(base, &b, &page, &code).await;
    let claims = id_token_after(base, &b, r, client).await;
    assert_eq!(
        claims["amr"],
        serde_json::json!(["pwd", "otp", "mfa"]),
        "{claims}"
    );
    assert_eq!(claims["acr"], "urn:sesame:acr:mfa", "{claims}");

    // The pending login became one session: its cookie is spent.
    // (A fresh password step gives a new one; the same code is then a replay.)
    let b2 = browser();
    let r = password_step(base, &b2, client.0, "pia").await;
    let page2 = r.text().await.unwrap();
    let r = code_step(base, &b2, &page2, &code).await;
    assert_eq!(r.status(), 401, "a replayed code was accepted");

    // A recovery code signs in once.
    let page2 = r.text().await.unwrap();
    let r = code_step(base, &b2, &page2, &recovery[3].to_uppercase()).await;
    let claims = id_token_after(base, &b2, r, client).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    let b3 = browser();
    let page3 = password_step(base, &b3, client.0, "pia")
        .await
        .text()
        .await
        .unwrap();
    let r = code_step(base, &b3, &page3, &recovery[3]).await;
    assert_eq!(r.status(), 401, "a spent recovery code was accepted");

    // A user without TOTP signs in with the password alone, as before.
    let b4 = browser();
    let r = password_step(base, &b4, client.0, "plain").await;
    let claims = id_token_after(base, &b4, r, client).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert_eq!(claims["acr"], "urn:sesame:acr:password");

    // Removed from the CLI: the password alone again.
    let (code, _, err) = sesame(&[
        "--database",
        &s.db,
        "users",
        "totp",
        "--username",
        "pia",
        "--remove",
    ]);
    assert_eq!(code, 0, "{err}");
    let b5 = browser();
    let r = password_step(base, &b5, client.0, "pia").await;
    let claims = id_token_after(base, &b5, r, client).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    server.stop().await;
    drop(s.dir);
}

#[tokio::test]
async fn the_code_step_needs_its_pending_login_and_its_csrf_token_and_is_rate_limited() {
    let s = setup(&["ola"]);
    let e = enrol(&s.db, "ola");
    let secret = e["secret"].as_str().unwrap().to_owned();
    let server = Server::spawn(&s.db, |_| {}).await;
    let base = &server.base;

    // No pending login (a browser that never gave the password): the
    // login page, whatever the code.
    let stranger = browser();
    let page = stranger
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = code_step(base, &stranger, &page, &totp_code_now(&secret)).await;
    assert_eq!(r.status(), 401);
    assert!(
        r.text().await.unwrap().contains("name=\"password\""),
        "not sent back to the password"
    );

    // A wrong CSRF token: refused before the code is looked at.
    let b = browser();
    let page = password_step(base, &b, &s.client.0, "ola")
        .await
        .text()
        .await
        .unwrap();
    let forged = page.replace(&hidden(&page, "csrf_token"), "forged");
    let r = code_step(base, &b, &forged, &totp_code_now(&secret)).await;
    assert_eq!(r.status(), 403);

    // Five wrong codes, then even the right one is refused for a while.
    let mut page = r.text().await.unwrap();
    let right = totp_code_now(&secret);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..5 {
        let r = code_step(base, &b, &page, wrong).await;
        assert_eq!(r.status(), 401);
        page = r.text().await.unwrap();
    }
    let r = code_step(base, &b, &page, &right).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    server.stop().await;
}

#[tokio::test]
async fn an_essential_mfa_acr_asks_a_signed_in_user_only_for_the_code() {
    let s = setup(&["ada"]);
    let server = Server::spawn(&s.db, |_| {}).await;
    let base = &server.base;
    let client = (s.client.0.as_str(), s.client.1.as_str());
    // Signed in with the password alone (no TOTP yet).
    let b = browser();
    let r = password_step(base, &b, client.0, "ada").await;
    let claims = id_token_after(base, &b, r, client).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    // Enrolled afterwards; a client now asks for the mfa acr, essential.
    let e = enrol(&s.db, "ada");
    let secret = e["secret"].as_str().unwrap();
    let essential = r#"{"id_token":{"acr":{"essential":true,"values":["urn:sesame:acr:mfa"]}}}"#;
    let r = b
        .get(format!("{base}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client.0),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("nonce", "n2"),
            ("claims", essential),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let login = absolute(base, &location(&r));
    assert!(login.contains("step_up=1"), "{login}");
    // A voluntary acr_values steps up too, but never with prompt=none: the
    // silent request gets a code for the session as it is.
    let silent = |prompt: &'static str| {
        let b = b.clone();
        let url = format!("{base}/authorize");
        async move {
            let mut q = vec![
                ("response_type", "code"),
                ("client_id", client.0),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
                ("nonce", "n3"),
                ("acr_values", "urn:sesame:acr:mfa"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                ("code_challenge_method", "S256"),
            ];
            if !prompt.is_empty() {
                q.push(("prompt", prompt));
            }
            let r = b.get(url).query(&q).send().await.unwrap();
            location(&r)
        }
    };
    let voluntary = silent("").await;
    assert!(voluntary.contains("step_up=1"), "{voluntary}");
    let none = silent("none").await;
    assert!(
        none.starts_with(REDIRECT) && none.contains("code="),
        "{none}"
    );
    // Only the code is asked for: the session's password still counts.
    let page = b.get(&login).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("name=\"totp\"") && !page.contains("name=\"password\""),
        "{page}"
    );
    let r = code_step(base, &b, &page, &totp_code_now(secret)).await;
    let claims = id_token_after(base, &b, r, client).await;
    assert_eq!(claims["acr"], "urn:sesame:acr:mfa", "{claims}");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));

    // step_up=1 without a login session is the password page, as always.
    let stranger = browser();
    let page = stranger
        .get(format!("{base}/login?step_up=1&return_to=/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("name=\"password\"") && !page.contains("name=\"totp\""),
        "{page}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_requires_mfa_refuses_a_password_only_user() {
    let s = setup(&["mia", "noa"]);
    let (code, _, err) = sesame(&[
        "--database",
        &s.db,
        "clients",
        "update",
        &s.client.0,
        "--require-mfa",
        "true",
    ]);
    assert_eq!(code, 0, "{err}");
    let e = enrol(&s.db, "mia");
    let secret = e["secret"].as_str().unwrap().to_owned();
    // No client cache: the update at the end is seen at once.
    let server = Server::spawn(&s.db, |c| c.cache_ttl = 0).await;
    let base = &server.base;
    let client = (s.client.0.as_str(), s.client.1.as_str());

    // With TOTP: the two steps, and the ID token names the mfa acr.
    let b = browser();
    let page = password_step(base, &b, client.0, "mia")
        .await
        .text()
        .await
        .unwrap();
    let r = code_step(base, &b, &page, &totp_code_now(&secret)).await;
    let claims = id_token_after(base, &b, r, client).await;
    assert_eq!(claims["acr"], "urn:sesame:acr:mfa", "{claims}");

    // Without: the password is right, but the client gets access_denied.
    let b = browser();
    let r = password_step(base, &b, client.0, "noa").await;
    assert_eq!(r.status(), 303);
    let r = b.get(absolute(base, &location(&r))).send().await.unwrap();
    let to = location(&r);
    assert!(
        to.starts_with(REDIRECT) && to.contains("error=access_denied"),
        "{to}"
    );

    // Cleared: the password alone is enough again.
    let (code, _, err) = sesame(&[
        "--database",
        &s.db,
        "clients",
        "update",
        &s.client.0,
        "--require-mfa",
        "false",
    ]);
    assert_eq!(code, 0, "{err}");
    let b = browser();
    let r = password_step(base, &b, client.0, "noa").await;
    let claims = id_token_after(base, &b, r, client).await;
    assert_eq!(claims["acr"], "urn:sesame:acr:password");
    server.stop().await;
}
