//! The demo in a real browser: headless Chromium over WebDriver clicks through
//! login, consent, the claims page and logout, and saves a screenshot of each
//! page under `target/e2e-screenshots/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};

use crate::support::*;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn screenshots_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("e2e-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Headless Chromium driven over WebDriver (chromedriver on a free port),
/// or `None` (said in the test summary) when they are not installed.
struct Chromium {
    c: fantoccini::Client,
    _driver: Driver,
    _profile: TempDir,
}

async fn chromium(test: &str) -> Option<Chromium> {
    let (Ok(chromium), Ok(chromedriver)) = (which("chromium"), which("chromedriver")) else {
        return crate::support::missing(
            test,
            "chromium and chromedriver (apt-get install chromium chromium-driver; .ci/run does)",
        );
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Driver(
        Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let profile = TempDir::new();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
                "--window-size=1100,900", format!("--user-data-dir={}", profile.0.display())
            ]
        }),
    );
    let mut client = None;
    for _ in 0..50 {
        match ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let c = client.expect("chromedriver started");
    Some(Chromium {
        c,
        _driver: driver,
        _profile: profile,
    })
}

/// `sesame demo` on free ports: the process, the app's URL and the demo
/// user's password.
fn demo(dir: &TempDir) -> (Running, String, String) {
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
    let password = demo
        .line_with("Sign in as")
        .split_whitespace()
        .last()
        .unwrap()
        .to_owned();

    (demo, app, password)
}

/// Clicks the element `css` selects.
async fn click(c: &fantoccini::Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// At the provider's login page: the demo user's name and `password` typed in.
async fn fill_login(c: &fantoccini::Client, password: &str) {
    let username = c.wait().for_element(Locator::Id("username")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    username.send_keys("demo").await.unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
}

/// Saves a screenshot of the page `c` shows as `name`.
async fn shot(c: &fantoccini::Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots_dir().join(name), png).unwrap();
}

#[tokio::test]
async fn demo_in_headless_chromium() {
    let Some(Chromium {
        c,
        _driver,
        _profile,
    }) = chromium("demo_in_headless_chromium").await
    else {
        return;
    };
    let dir = TempDir::new();
    let (_demo, app, password) = demo(&dir);
    let shots = screenshots_dir();
    c.goto(&format!("{app}/")).await.unwrap();
    let body = c
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("Welcome"), "{body}");
    shot(&c, "1-app-logged-out.png").await;

    // Log in: the provider's login page.
    click(&c, "button.primary").await;
    fill_login(&c, &password).await;
    shot(&c, "2-provider-login.png").await;
    click(&c, "button[type=submit]").await;

    // Consent.
    let allow = match c
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("button[name=allow]"))
        .await
    {
        Ok(a) => a,
        Err(e) => {
            shot(&c, "debug-consent.png").await;
            let url = c.current_url().await.unwrap();
            let body = c
                .find(Locator::Css("body"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap_or_default();
            panic!("no consent page: {e} at {url}: {body}");
        }
    };
    let body = c
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("Sesame demo app") && body.contains("email"),
        "{body}"
    );
    shot(&c, "3-provider-consent.png").await;
    allow.click().await.unwrap();

    // The app shows the claims.
    c.wait().for_element(Locator::Css("table")).await.unwrap();
    let body = c
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("Hello, Demo User") && body.contains("demo@example.com"),
        "{body}"
    );
    shot(&c, "4-app-signed-in.png").await;

    // Log out through the provider, back to the app.
    c.find(Locator::Css("form[action='/logout'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::XPath("//h1[text()='Welcome']"))
        .await
        .unwrap();
    assert!(c.current_url().await.unwrap().as_str().starts_with(&app));
    shot(&c, "5-app-after-logout.png").await;
    c.close().await.unwrap();
    for name in [
        "1-app-logged-out.png",
        "2-provider-login.png",
        "3-provider-consent.png",
        "4-app-signed-in.png",
        "5-app-after-logout.png",
    ] {
        assert!(
            std::fs::metadata(shots.join(name)).unwrap().len() > 1000,
            "{name}"
        );
    }
}

/// The demo user enrolled in TOTP signs in through the code page in
/// Chromium, typing the code this test computes; the app then shows the
/// `amr` of a two-step sign-in.
#[tokio::test]
async fn a_totp_sign_in_in_headless_chromium() {
    let Some(Chromium {
        c,
        _driver,
        _profile,
    }) = chromium("a_totp_sign_in_in_headless_chromium").await
    else {
        return;
    };
    let dir = TempDir::new();
    let (_demo, app, password) = demo(&dir);
    let db = format!("sqlite://{}/sesame.db", dir.0.display());
    let (code, out, err) = sesame(&[
        "--database",
        &db,
        "users",
        "totp",
        "--username",
        "demo",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let secret = serde_json::from_str::<serde_json::Value>(&out).unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    c.goto(&format!("{app}/")).await.unwrap();
    click(&c, "button.primary").await;
    fill_login(&c, &password).await;
    click(&c, "button[type=submit]").await;

    // The second step: the code page, its field named totp.
    let field = c
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("input[name=totp]"))
        .await
        .unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    shot(&c, "6-provider-totp-step.png").await;
    field.send_keys(&totp_code_now(&secret)).await.unwrap();
    click(&c, "button[type=submit]").await;

    let allow = c
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("button[name=allow]"))
        .await
        .unwrap();
    allow.click().await.unwrap();
    c.wait().for_element(Locator::Css("table")).await.unwrap();
    let body = c
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("Hello, Demo User") && body.contains("otp"),
        "{body}"
    );
    shot(&c, "7-app-signed-in-with-totp.png").await;
    c.close().await.unwrap();
    for name in ["6-provider-totp-step.png", "7-app-signed-in-with-totp.png"] {
        assert!(
            std::fs::metadata(screenshots_dir().join(name))
                .unwrap()
                .len()
                > 1000,
            "{name}"
        );
    }
}

fn which(name: &str) -> Result<String, ()> {
    let out = Command::new("which").arg(name).output().map_err(|_| ())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(())
    }
}

/// WebDriver's WebAuthn extension: `POST /session/{id}/webauthn/authenticator`
/// adds a virtual authenticator (CTAP2, internal, resident keys, user
/// verification that always succeeds); `DELETE .../authenticator/{aid}`
/// removes it.
#[derive(Debug)]
enum VirtualAuthenticator {
    Add,
    Remove(String),
}

impl fantoccini::wd::WebDriverCompatibleCommand for VirtualAuthenticator {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        match self {
            Self::Add => base_url.join(&format!("session/{session}/webauthn/authenticator")),
            Self::Remove(id) => {
                base_url.join(&format!("session/{session}/webauthn/authenticator/{id}"))
            }
        }
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        match self {
            Self::Add => {
                let body = serde_json::json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                    "isUserConsenting": true,
                });
                (http::Method::POST, Some(body.to_string()))
            }
            Self::Remove(_) => (http::Method::DELETE, None),
        }
    }
}

/// The text of the page `c` shows (empty while a navigation replaces it).
async fn body_text(c: &fantoccini::Client) -> String {
    match c.find(Locator::Css("body")).await {
        Ok(body) => body.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits until the page's text contains `needle` (15 s), or fails with
/// the page and a screenshot.
async fn wait_text(c: &fantoccini::Client, needle: &str, debug: &str) -> String {
    for _ in 0..75 {
        let body = body_text(c).await;
        if body.contains(needle) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shot(c, debug).await;
    let url = c.current_url().await.unwrap();
    panic!("no {needle:?} at {url}: {}", body_text(c).await);
}

/// Waits until the browser is at a URL starting with `prefix` (15 s).
async fn wait_url(c: &fantoccini::Client, prefix: &str, debug: &str) -> url::Url {
    for _ in 0..75 {
        let url = c.current_url().await.unwrap();
        if url.as_str().starts_with(prefix) {
            return url;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shot(c, debug).await;
    let at = c.current_url().await.unwrap();
    panic!("never at {prefix} (at {at}): {}", body_text(c).await);
}

/// Signs in at the login page `c` shows with a username and password.
async fn password_sign_in(c: &fantoccini::Client, username: &str, password: &str) {
    let field = c.wait().for_element(Locator::Id("username")).await.unwrap();
    field.send_keys(username).await.unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    click(c, "form[action$='/login'] button[type=submit]").await;
}

/// The account page in Chromium, over a `sesame serve` whose issuer is
/// `http://localhost:PORT` (WebAuthn has no RP ID for an IP address):
/// password sign-in; a passkey registered with Chromium's virtual
/// authenticator; sign out everywhere, and the login page's conditional
/// request (passkeys in the username autofill, which the virtual
/// authenticator answers by itself) signs in with the passkey alone — the
/// ID token of the next authorization says `amr` hwk/user/mfa; TOTP set up
/// from the page's QR code section with a code this test computes; the
/// passkey removed; a sign-in with one of the recovery codes the page
/// showed. Screenshots 8–13.
#[tokio::test]
async fn passkeys_and_the_account_page_in_headless_chromium() {
    let Some(Chromium {
        c,
        _driver,
        _profile,
    }) = chromium("passkeys_and_the_account_page_in_headless_chromium").await
    else {
        return;
    };
    const PASSWORD: &str = "correct horse battery";
    let dir = TempDir::new();
    let db = dir.db();
    let (code, _, err) = sesame(&[
        "--database",
        &db,
        "users",
        "add",
        "--username",
        "alice",
        "--password",
        PASSWORD,
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = sesame(&[
        "--database",
        &db,
        "clients",
        "add",
        "--name",
        "RP",
        "--redirect-uri",
        "http://localhost:9/cb",
        "--skip-consent",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let client: serde_json::Value = serde_json::from_str(&out).unwrap();
    let client_id = client["client_id"].as_str().unwrap();
    let port = free_port();
    let base = format!("http://localhost:{port}");
    let _server = Running::serve_on(&db, &base, port, &[]);
    wait_healthy(&format!("http://127.0.0.1:{port}")).await;

    // The login page, its passkey button shown by the script.
    c.goto(&format!("{base}/login?return_to=%2Faccount"))
        .await
        .unwrap();
    wait_text(&c, "Sign in with a passkey", "debug-login.png").await;
    shot(&c, "8-login-with-passkey.png").await;
    password_sign_in(&c, "alice", PASSWORD).await;
    let body = wait_text(&c, "Your account", "debug-account.png").await;
    assert!(
        body.contains("Signed in as alice") && body.contains("Passkeys"),
        "{body}"
    );
    shot(&c, "9-account-page.png").await;

    // A passkey, from the virtual authenticator.
    let added = c.issue_cmd(VirtualAuthenticator::Add).await.unwrap();
    let authenticator = added.as_str().unwrap().to_owned();
    c.find(Locator::Id("passkey_name"))
        .await
        .unwrap()
        .send_keys("Laptop")
        .await
        .unwrap();
    click(&c, "#passkey-add").await;
    let body = wait_text(&c, "The passkey was added.", "debug-passkey-add.png").await;
    assert!(body.contains("Laptop"), "{body}");
    shot(&c, "10-account-passkey-added.png").await;

    // Sign out everywhere; the login page's conditional request signs in
    // with the passkey and goes back to the account page.
    click(&c, "#sign-out-everywhere").await;
    wait_url(&c, &format!("{base}/account"), "debug-passkey-signin.png").await;
    wait_text(&c, "Signed in as alice", "debug-passkey-signin.png").await;
    // The session is the passkey's: the ID token says so.
    c.goto(&format!(
        "{base}/authorize?response_type=code&client_id={client_id}&redirect_uri=http%3A%2F%2Flocalhost%3A9%2Fcb&scope=openid&nonce=n1&state=s1"
    ))
    .await
    .unwrap();
    let redirected = wait_url(&c, "http://localhost:9/cb", "debug-authorize.png").await;
    let code = redirected
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let tokens: serde_json::Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/token"))
        .basic_auth(client_id, client["client_secret"].as_str())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://localhost:9/cb"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let claims = jwt_claims(tokens["id_token"].as_str().expect("an ID token"));
    let amr: Vec<&str> = claims["amr"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(amr, ["hwk", "user", "mfa"], "{claims}");
    assert_eq!(claims["acr"], "urn:sesame:acr:mfa", "{claims}");

    // TOTP from the account page: the QR code section, a computed code.
    c.goto(&format!("{base}/account")).await.unwrap();
    wait_text(&c, "Your account", "debug-account-2.png").await;
    click(&c, "#totp-start").await;
    let secret = c
        .wait()
        .for_element(Locator::Id("totp-secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(c.find(Locator::Css(".qr svg")).await.is_ok(), "a QR code");
    shot(&c, "11-account-totp-enrol.png").await;
    c.find(Locator::Id("totp"))
        .await
        .unwrap()
        .send_keys(&totp_code_now(&secret))
        .await
        .unwrap();
    click(&c, "#totp-enrol button[type=submit]").await;
    wait_text(&c, "Your recovery codes", "debug-recovery.png").await;
    let mut codes = Vec::new();
    for li in c.find_all(Locator::Css(".codes li")).await.unwrap() {
        codes.push(li.text().await.unwrap());
    }
    assert_eq!(codes.len(), 10, "{codes:?}");
    shot(&c, "12-account-recovery-codes.png").await;

    // The passkey removed (and the authenticator gone, so that the login
    // page's conditional request finds nothing), then the password and a
    // recovery code.
    click(&c, "form[action$='/account/passkeys/remove'] button").await;
    wait_text(&c, "The passkey was removed.", "debug-passkey-removed.png").await;
    c.issue_cmd(VirtualAuthenticator::Remove(authenticator))
        .await
        .unwrap();
    click(&c, "#sign-out-everywhere").await;
    password_sign_in(&c, "alice", PASSWORD).await;
    let field = c
        .wait()
        .for_element(Locator::Css("input[name=totp]"))
        .await
        .unwrap();
    field.send_keys(&codes[3]).await.unwrap();
    shot(&c, "13-login-recovery-code.png").await;
    click(&c, "button[type=submit]").await;
    let body = wait_text(&c, "Your account", "debug-recovery-signin.png").await;
    assert!(body.contains("9 recovery codes left"), "{body}");
    c.close().await.unwrap();
    for name in [
        "8-login-with-passkey.png",
        "9-account-page.png",
        "10-account-passkey-added.png",
        "11-account-totp-enrol.png",
        "12-account-recovery-codes.png",
        "13-login-recovery-code.png",
    ] {
        assert!(
            std::fs::metadata(screenshots_dir().join(name))
                .unwrap()
                .len()
                > 1000,
            "{name}"
        );
    }
}

/// The claims of a JWT (not verified: the test reads what the server put in).
fn jwt_claims(jwt: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Sign-in at `sesame serve` through an upstream provider (panva's
/// oidc-provider, interop/op.mjs) in Chromium: the login page's "Continue
/// with Panva" button, the upstream's login and consent pages, back to a
/// client of sesame's whose ID token names the LOCAL subject.
#[tokio::test]
async fn an_upstream_sign_in_in_headless_chromium() {
    use crate::upstream::{Setup, cli, users};
    let test = "an_upstream_sign_in_in_headless_chromium";
    let Some(s) = Setup::new(test, None).await else {
        return;
    };
    let Some(Chromium {
        c,
        _driver,
        _profile,
    }) = chromium(test).await
    else {
        return;
    };
    // The client's redirect target: a page that only says it got a code.
    let rp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect = format!("http://{}/cb", rp.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/cb",
        axum::routing::get(|| async { axum::response::Html("<p id=done>The app got a code.</p>") }),
    );
    tokio::spawn(async move { axum::serve(rp, app).await.unwrap() });
    let (code, out, err) = cli(
        &s.db,
        &[
            "clients",
            "add",
            "--name",
            "Upstream RP",
            "--redirect-uri",
            &redirect,
            "--skip-consent",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let client: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (id, secret) = (
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
    );
    let verifier = sesame_core::CodeVerifier::random().unwrap();
    let mut authorize = url::Url::parse(&format!("{}/authorize", s.server.base)).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", id)
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", "openid profile email")
        .append_pair("nonce", "browser-nonce")
        .append_pair(
            "code_challenge",
            verifier.challenge(sesame_core::PkceMethod::S256).as_str(),
        )
        .append_pair("code_challenge_method", "S256");
    c.goto(authorize.as_str()).await.unwrap();
    let button = c
        .wait()
        .for_element(Locator::Css("a.upstream"))
        .await
        .unwrap();
    assert_eq!(button.text().await.unwrap(), "Continue with Panva");
    shot(&c, "14-login-with-upstream-button.png").await;
    button.click().await.unwrap();

    // The upstream's own login page (oidc-provider's devInteractions).
    let login = c
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("input[name=login]"))
        .await
        .unwrap();
    assert!(
        c.current_url()
            .await
            .unwrap()
            .as_str()
            .starts_with(&s._op.issuer)
    );
    shot(&c, "15-upstream-login-page.png").await;
    login.send_keys("grace").await.unwrap();
    c.find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys("any")
        .await
        .unwrap();
    click(&c, "button[type=submit]").await;
    // Its consent page, then back through sesame to the client.
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("input[name=prompt][value=consent]"))
        .await
        .unwrap();
    click(&c, "button[type=submit]").await;
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Id("done"))
        .await
        .unwrap();
    shot(&c, "16-client-after-upstream-sign-in.png").await;
    let back = c.current_url().await.unwrap();
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    c.close().await.unwrap();
    let t: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/token", s.server.base))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", verifier.secret()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let payload = t["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    use base64::Engine as _;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let grace = users(&s.db)
        .into_iter()
        .find(|u| u.0 == "grace")
        .expect("account grace");
    assert_eq!(claims["sub"].as_str().unwrap(), grace.1, "{claims}");
    assert_ne!(claims["sub"], "grace");
    for name in [
        "14-login-with-upstream-button.png",
        "15-upstream-login-page.png",
        "16-client-after-upstream-sign-in.png",
    ] {
        assert!(
            std::fs::metadata(screenshots_dir().join(name))
                .unwrap()
                .len()
                > 1000,
            "{name}"
        );
    }
    s.server.stop().await;
}

/// Step-up in Chromium: a browser signed in with the password alone (the
/// user had no TOTP then) asks for `acr_values=urn:sesame:acr:mfa` after
/// the user enrolled; the provider shows only the code page (not the
/// password again), and the ID token then says `acr` mfa and `amr` otp.
/// Screenshot 17.
#[tokio::test]
async fn step_up_from_acr_values_in_headless_chromium() {
    let Some(Chromium {
        c,
        _driver,
        _profile,
    }) = chromium("step_up_from_acr_values_in_headless_chromium").await
    else {
        return;
    };
    const PASSWORD: &str = "correct horse battery";
    let dir = TempDir::new();
    let db = dir.db();
    let (code, _, err) = sesame(&[
        "--database",
        &db,
        "users",
        "add",
        "--username",
        "carol",
        "--password",
        PASSWORD,
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = sesame(&[
        "--database",
        &db,
        "clients",
        "add",
        "--name",
        "RP",
        "--redirect-uri",
        "http://localhost:9/cb",
        "--skip-consent",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let client: serde_json::Value = serde_json::from_str(&out).unwrap();
    let client_id = client["client_id"].as_str().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = Running::serve_on(&db, &base, port, &[]);
    wait_healthy(&base).await;

    // A password-only session.
    c.goto(&format!("{base}/login?return_to=%2F"))
        .await
        .unwrap();
    password_sign_in(&c, "carol", PASSWORD).await;
    wait_text(&c, "Signed in as carol", "debug-step-up-home.png").await;
    // Carol enrols in TOTP (by her administrator, here).
    let (code, out, err) = sesame(&[
        "--database",
        &db,
        "users",
        "totp",
        "--username",
        "carol",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let secret = serde_json::from_str::<serde_json::Value>(&out).unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    // An app asks for the mfa level: only the code is asked for.
    c.goto(&format!(
        "{base}/authorize?response_type=code&client_id={client_id}&redirect_uri=http%3A%2F%2Flocalhost%3A9%2Fcb&scope=openid&nonce=n&acr_values=urn%3Asesame%3Aacr%3Amfa"
    ))
    .await
    .unwrap();
    wait_text(&c, "Enter your verification code", "debug-step-up-page.png").await;
    let field = c.find(Locator::Css("input[name=totp]")).await.unwrap();
    assert!(
        c.find(Locator::Id("password")).await.is_err(),
        "no password field"
    );
    let url = c.current_url().await.unwrap();
    assert!(
        url.query_pairs().any(|(k, v)| k == "step_up" && v == "1"),
        "{url}"
    );
    shot(&c, "17-step-up-code-page.png").await;
    field.send_keys(&totp_code_now(&secret)).await.unwrap();
    click(&c, "button[type=submit]").await;
    let redirected = wait_url(&c, "http://localhost:9/cb", "debug-step-up.png").await;
    let code = redirected
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let tokens: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth(client_id, client["client_secret"].as_str())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://localhost:9/cb"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let claims = jwt_claims(tokens["id_token"].as_str().expect("an ID token"));
    assert_eq!(claims["acr"], "urn:sesame:acr:mfa", "{claims}");
    assert_eq!(
        claims["amr"],
        serde_json::json!(["pwd", "otp", "mfa"]),
        "{claims}"
    );
    c.close().await.unwrap();
    assert!(
        std::fs::metadata(screenshots_dir().join("17-step-up-code-page.png"))
            .unwrap()
            .len()
            > 1000
    );
}
