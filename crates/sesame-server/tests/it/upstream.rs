//! Signing in at `sesame serve` through an upstream provider, panva's
//! oidc-provider (interop/op.mjs), driven with reqwest: the downstream ID
//! token names the LOCAL subject; a replayed `state`, a callback without the
//! browser's cookie and an email matching an existing account are refused
//! (the last gets a new account). `upstream_faults.rs` injects faults with
//! a hand-written upstream.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use serde_json::Value;

use crate::support::*;

pub const REDIRECT: &str = "http://127.0.0.1:9/cb";
/// The encryption key of every database here (PostgreSQL has no key file).
const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// `sesame --database DB ARGS…` with the key: (exit code, stdout, stderr).
pub fn cli(db: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(["--database", db])
        .args(args)
        .env_remove("SESAME_CONFIG")
        .env("SESAME_ENCRYPTION_KEY", KEY)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
pub const BYE: &str = "http://127.0.0.1:9/bye";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// panva's oidc-provider (interop/op.mjs), killed on drop.
pub struct NodeOp {
    child: Child,
    pub issuer: String,
    /// The `sesame-basic` client's secret (redirect `{basic_app}/callback`).
    pub secret: String,
}

impl Drop for NodeOp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `npm ci` in interop/ (its pinned package-lock.json) when its packages
/// are not there yet, once per test process: with node and npm present,
/// `cargo test` needs no other step.
fn install_npm_packages(dir: &std::path::Path) {
    static ONCE: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut done = ONCE.lock().unwrap_or_else(|e| e.into_inner());
    if *done || dir.join("node_modules/oidc-provider/package.json").exists() {
        return;
    }
    *done = true;
    let status = Command::new("npm")
        .current_dir(dir)
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .stdout(Stdio::null())
        .status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("npm ci in {} failed", dir.display());
    }
}

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

impl NodeOp {
    /// op.mjs on a free port, its `sesame-basic` client redirecting to
    /// `{basic_app}/callback`; `None` (or a panic, see `missing`) without
    /// node or the npm packages.
    pub fn start(test: &str, basic_app: &str) -> Option<Self> {
        let dir = interop_dir();
        let node = Command::new("node").arg("--version").output();
        if node.is_ok() {
            install_npm_packages(&dir);
        }
        if node.is_err() || !dir.join("node_modules/oidc-provider/package.json").exists() {
            return missing(
                test,
                "node 20+ and interop's npm packages (cd interop && npm ci)",
            );
        }
        let port = free_port();
        let mut child = Command::new("node")
            .current_dir(&dir)
            .args([
                "op.mjs",
                "--port",
                &port.to_string(),
                "--basic-app",
                basic_app,
            ])
            .args(["--post-app", "http://127.0.0.1:9/unused"])
            .env("OP_POST_LOGOUT_PATH", "logged-out")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains(" ready on ") {
            line.clear();
            assert!(reader.read_line(&mut line).unwrap() > 0, "op.mjs exited");
        }
        // Keep reading: oidc-provider writes notices to stdout later, and
        // dies of EPIPE if nobody reads them.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        let secret = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("basic_secret="))
            .unwrap()
            .to_owned();
        Some(Self {
            child,
            issuer: format!("http://127.0.0.1:{port}"),
            secret,
        })
    }
}

/// A sesame server on a fresh SQLite database with a client that skips
/// consent, and panva's provider as its upstream `panva`.
pub struct Setup {
    pub _dir: TempDir,
    pub db: String,
    pub client: (String, String),
    pub server: Server,
    pub _op: NodeOp,
}

pub fn add_client(db: &str) -> (String, String) {
    let (code, out, err) = cli(
        db,
        &[
            "clients",
            "add",
            "--name",
            "RP",
            "--redirect-uri",
            REDIRECT,
            "--post-logout-redirect-uri",
            BYE,
            "--skip-consent",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let c: Value = serde_json::from_str(&out).unwrap();
    (
        c["client_id"].as_str().unwrap().to_owned(),
        c["client_secret"].as_str().unwrap().to_owned(),
    )
}

impl Setup {
    pub async fn new(test: &str, db: Option<String>) -> Option<Self> {
        Self::with(test, db, |_| {}).await
    }

    /// As `new`, the upstream entry adjusted by `edit`.
    pub async fn with(
        test: &str,
        db: Option<String>,
        edit: impl FnOnce(&mut sesame_server::config::Upstream),
    ) -> Option<Self> {
        let dir = TempDir::new();
        let db = db.unwrap_or_else(|| dir.db());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let op = NodeOp::start(test, &format!("{base}/upstream/panva"))?;
        let client = add_client(&db);
        let mut upstream = sesame_server::config::Upstream {
            name: "panva".into(),
            display_name: "Panva".into(),
            issuer: op.issuer.clone(),
            client_id: "sesame-basic".into(),
            client_secret: Some(op.secret.clone()),
            ..Default::default()
        };
        edit(&mut upstream);
        let config = sesame_server::Config {
            issuer: base.clone(),
            database: db.clone(),
            encryption_key: Some(KEY.into()),
            upstream: vec![upstream],
            // The CLI changes users under the server: no cached copies.
            cache_ttl: 0,
            ..sesame_server::Config::default()
        };
        let server = Server::spawn_with(config, listener).await;
        Some(Self {
            _dir: dir,
            db,
            client,
            server,
            _op: op,
        })
    }
}

/// Unescapes what minijinja escapes in an attribute.
pub fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
}

/// The `href` of the "Continue with {display}" link of a login page.
pub fn upstream_link(html: &str, display: &str) -> String {
    let text = format!(">Continue with {display}</a>");
    let end = html
        .find(&text)
        .unwrap_or_else(|| panic!("no button in {html}"));
    let start = html[..end].rfind("href=\"").unwrap() + 6;
    unescape(&html[start..html[start..end].find('"').unwrap() + start])
}

/// An authorization request at sesame for `client_id`: the login page's URL.
pub async fn authorize(base: &str, b: &reqwest::Client, client_id: &str) -> String {
    let r = b
        .get(format!("{base}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid profile email"),
            ("nonce", "downstream-nonce"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    absolute(base, &location(&r))
}

/// Follows redirects from `url` (GET) until one leads to `stop` (returned, not followed).
pub async fn follow_until(b: &reqwest::Client, mut url: String, stop: &str) -> String {
    for _ in 0..10 {
        if url.starts_with(stop) {
            return url;
        }
        let r = b.get(&url).send().await.unwrap();
        assert!(r.status().is_redirection(), "{url}: {}", r.status());
        url = absolute(&url, &location(&r));
    }
    panic!("too many redirects before {stop}");
}

/// From sesame's upstream start URL through panva's login and consent
/// forms as `login`: the URL of sesame's callback (not yet requested).
pub async fn through_panva(b: &reqwest::Client, start: &str, op: &str, login: &str) -> String {
    let interaction = follow_until(b, start.to_owned(), &format!("{op}/interaction/")).await;
    let r = b.get(&interaction).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("name=\"login\""));
    let r = b
        .post(&interaction)
        .form(&[("prompt", "login"), ("login", login), ("password", "any")])
        .send()
        .await
        .unwrap();
    let consent = follow_until(
        b,
        absolute(&interaction, &location(&r)),
        &format!("{op}/interaction/"),
    )
    .await;
    let r = b
        .post(&consent)
        .form(&[("prompt", "consent")])
        .send()
        .await
        .unwrap();
    let base = start.split("/upstream/").next().unwrap();
    follow_until(
        b,
        absolute(&consent, &location(&r)),
        &format!("{base}/upstream/"),
    )
    .await
}

/// After sesame's answer to the callback (303 back to /authorize): the
/// downstream ID token's claims.
pub async fn downstream_claims(
    base: &str,
    b: &reqwest::Client,
    signed_in: reqwest::Response,
    client: (&str, &str),
) -> Value {
    let jwt = downstream_id_token(base, b, signed_in, client).await;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// As `downstream_claims`: the ID token itself.
pub async fn downstream_id_token(
    base: &str,
    b: &reqwest::Client,
    signed_in: reqwest::Response,
    (id, secret): (&str, &str),
) -> String {
    assert_eq!(signed_in.status(), 303);
    let cb = follow_until(b, absolute(base, &location(&signed_in)), REDIRECT).await;
    let cb = url::Url::parse(&cb).unwrap();
    let code = cb
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let t: Value = reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    t["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{t}"))
        .to_owned()
}

/// `sesame users list --json`: (username, subject, email) of each.
pub fn users(db: &str) -> Vec<(String, String, Option<String>)> {
    let (code, out, err) = cli(db, &["users", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["username"].as_str().unwrap().to_owned(),
                u["subject"].as_str().unwrap().to_owned(),
                u["email"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// A whole sign-in through panva as `login` in browser `b`: the
/// downstream ID token's claims.
async fn sign_in(s: &Setup, b: &reqwest::Client, login: &str) -> Value {
    let base = &s.server.base;
    let page = authorize(base, b, &s.client.0).await;
    let html = b.get(&page).send().await.unwrap().text().await.unwrap();
    let start = upstream_link(&html, "Panva");
    assert!(
        start.starts_with(&format!("{base}/upstream/panva/login?return_to=")),
        "{start}"
    );
    let callback = through_panva(b, &start, &s._op.issuer, login).await;
    let r = b.get(&callback).send().await.unwrap();
    downstream_claims(base, b, r, (&s.client.0, &s.client.1)).await
}

async fn panva_flow(test: &str, db: Option<String>) {
    let Some(s) = Setup::new(test, db).await else {
        return;
    };
    let claims = sign_in(&s, &browser(), "alice").await;
    let sub = claims["sub"].as_str().unwrap();
    assert_ne!(sub, "alice", "the upstream's sub leaked downstream");
    assert_eq!(claims["amr"], serde_json::json!(["fed"]), "{claims}");
    let accounts = users(&s.db);
    let alice = accounts
        .iter()
        .find(|u| u.0 == "alice")
        .expect("account alice");
    assert_eq!(alice.1, sub, "the ID token's sub is the local account's");
    assert_eq!(alice.2.as_deref(), Some("alice@interop.example"));
    // Again, in another browser: the same local account (found by issuer and sub).
    let again = sign_in(&s, &browser(), "alice").await;
    assert_eq!(again["sub"], sub);
    assert_eq!(users(&s.db).len(), 1);
    // No password signs this account in (its hash is of a secret nobody has).
    let b = browser();
    let page = authorize(&s.server.base, &b, &s.client.0).await;
    let r = submit_login(&b, &page, &s.server.base, "alice", "").await;
    assert_eq!(r.status(), 401);
    s.server.stop().await;
}

#[tokio::test]
async fn upstream_sign_in_gives_a_local_subject() {
    panva_flow("upstream_sign_in_gives_a_local_subject", None).await;
}

#[tokio::test]
async fn upstream_sign_in_on_postgres() {
    let Some(url) = pg_url("upstream_sign_in_on_postgres") else {
        return;
    };
    let schema = PgSchema::new(&url).await;
    panva_flow("upstream_sign_in_on_postgres", Some(schema.url.clone())).await;
    schema.drop_now().await;
}

#[tokio::test]
async fn a_replayed_upstream_state_is_refused() {
    let Some(s) = Setup::new("a_replayed_upstream_state_is_refused", None).await else {
        return;
    };
    let b = browser();
    let base = &s.server.base;
    let start = format!("{base}/upstream/panva/login?return_to=/");
    let callback = through_panva(&b, &start, &s._op.issuer, "carol").await;
    let first = b.get(&callback).send().await.unwrap();
    assert_eq!(first.status(), 303);
    assert!(
        first
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("sesame_session="))
    );
    // The same callback again, from the same browser: the state is spent.
    let second = b.get(&callback).send().await.unwrap();
    assert_eq!(second.status(), 400);
    assert!(
        second
            .headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("sesame_session="))
    );
    assert!(
        second
            .text()
            .await
            .unwrap()
            .contains("expired or was already used")
    );
    s.server.stop().await;
}

#[tokio::test]
async fn an_upstream_callback_without_the_browser_cookie_is_refused() {
    let Some(s) = Setup::new(
        "an_upstream_callback_without_the_browser_cookie_is_refused",
        None,
    )
    .await
    else {
        return;
    };
    let b = browser();
    let base = &s.server.base;
    let start = format!("{base}/upstream/panva/login?return_to=/");
    let callback = through_panva(&b, &start, &s._op.issuer, "dave").await;
    // Another browser (an attacker's link, login CSRF): no sesame_upstream cookie.
    let other = browser();
    let r = other.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("sesame_session="))
    );
    // And the state was consumed: the right browser cannot use it afterwards either.
    let r = b.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(users(&s.db).is_empty(), "no account was made");
    s.server.stop().await;
}

#[tokio::test]
async fn an_upstream_email_never_links_an_existing_account() {
    let Some(s) = Setup::new("an_upstream_email_never_links_an_existing_account", None).await
    else {
        return;
    };
    // A local account with the email panva gives "erin" (verified there).
    let (code, _, err) = cli(
        &s.db,
        &[
            "users",
            "add",
            "--username",
            "erin-local",
            "--password",
            "a long local password",
            "--email",
            "erin@interop.example",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let local = users(&s.db)[0].1.clone();
    let claims = sign_in(&s, &browser(), "erin").await;
    assert_ne!(claims["sub"].as_str().unwrap(), local, "linked by email");
    let accounts = users(&s.db);
    assert_eq!(accounts.len(), 2, "{accounts:?}");
    let new = accounts
        .iter()
        .find(|u| u.0 == "erin")
        .expect("a new account");
    assert_eq!(new.1, claims["sub"].as_str().unwrap());
    s.server.stop().await;
}

/// The account page's "Link …" button of the signed-in browser `b`: its
/// URL (absolute) and the page's CSRF token.
async fn link_button(b: &reqwest::Client, base: &str) -> (String, String) {
    let html = b
        .get(format!("{base}/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let href = html
        .split("class=\"upstream-link\" href=\"")
        .nth(1)
        .and_then(|h| h.split('"').next())
        .expect("a link button")
        .replace("&amp;", "&")
        .replace("&#x2f;", "/");
    (absolute(base, &href), hidden(&html, "csrf_token"))
}

#[tokio::test]
async fn a_signed_in_user_links_an_upstream_account() {
    let Some(s) = Setup::new("a_signed_in_user_links_an_upstream_account", None).await else {
        return;
    };
    let (code, _, err) = cli(
        &s.db,
        &[
            "users",
            "add",
            "--username",
            "frank",
            "--password",
            "a long local password",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let frank = users(&s.db)[0].1.clone();
    let base = &s.server.base;
    // Without a session, link=1 is refused.
    let b = browser();
    let r = b
        .get(format!("{base}/upstream/panva/login?link=1&return_to=/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Signed in with the password, frank links panva's "frank-upstream".
    let page = authorize(base, &b, &s.client.0).await;
    let r = submit_login(&b, &page, base, "frank", "a long local password").await;
    assert_eq!(r.status(), 303);
    // A link=1 sent from elsewhere (no token of the account page's): refused.
    let r = b
        .get(format!("{base}/upstream/panva/login?link=1&return_to=/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "linking needs the account page's link token"
    );
    // From the account page's "Link Panva" button.
    let (href, _) = link_button(&b, base).await;
    let start = href;
    let callback = through_panva(&b, &start, &s._op.issuer, "frank-upstream").await;
    assert_eq!(b.get(&callback).send().await.unwrap().status(), 303);
    // Now panva's "frank-upstream" signs in as frank, in a fresh browser.
    let claims = sign_in(&s, &browser(), "frank-upstream").await;
    assert_eq!(claims["sub"].as_str().unwrap(), frank);
    assert_eq!(users(&s.db).len(), 1);
    // Another local user cannot unlink frank's identity.
    let (code, _, err) = cli(
        &s.db,
        &[
            "users",
            "add",
            "--username",
            "ivy",
            "--password",
            "a long local password",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let ivy = browser();
    let page = authorize(base, &ivy, &s.client.0).await;
    let r = submit_login(&ivy, &page, base, "ivy", "a long local password").await;
    assert_eq!(r.status(), 303);
    let ivy_html = ivy
        .get(format!("{base}/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = ivy
        .post(format!("{base}/account/links/remove"))
        .form(&[
            ("csrf_token", hidden(&ivy_html, "csrf_token").as_str()),
            ("issuer", s._op.issuer.as_str()),
            ("upstream_subject", "frank-upstream"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "not ivy's link");
    let claims = sign_in(&s, &browser(), "frank-upstream").await;
    assert_eq!(claims["sub"].as_str().unwrap(), frank, "still frank's");
    // Unlinked from the account page, it no longer does.
    let html = b
        .get(format!("{base}/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("frank-upstream"),
        "the linked identity is shown"
    );
    let csrf = hidden(&html, "csrf_token");
    let r = b
        .post(format!("{base}/account/links/remove"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("issuer", s._op.issuer.as_str()),
            ("upstream_subject", "frank-upstream"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let claims = sign_in(&s, &browser(), "frank-upstream").await;
    assert_ne!(claims["sub"].as_str().unwrap(), frank, "a new account now");
    s.server.stop().await;
}

#[tokio::test]
async fn a_link_whose_account_was_removed_meanwhile_is_refused() {
    let Some(s) = Setup::new(
        "a_link_whose_account_was_removed_meanwhile_is_refused",
        None,
    )
    .await
    else {
        return;
    };
    let (code, _, err) = cli(
        &s.db,
        &[
            "users",
            "add",
            "--username",
            "gina",
            "--password",
            "a long local password",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let base = &s.server.base;
    let b = browser();
    let page = authorize(base, &b, &s.client.0).await;
    let r = submit_login(&b, &page, base, "gina", "a long local password").await;
    assert_eq!(r.status(), 303);
    let (href, _) = link_button(&b, base).await;
    // The link starts; the account is removed before the upstream answers.
    let start = href;
    let interaction_done = through_panva(&b, &start, &s._op.issuer, "gina-upstream");
    let callback = interaction_done.await;
    let (code, _, err) = cli(&s.db, &["users", "remove", "--username", "gina"]);
    assert_eq!(code, 0, "{err}");
    let r = b.get(&callback).send().await.unwrap();
    let status = r.status();
    let location = r.headers().get("location").cloned();
    let body = r.text().await.unwrap();
    assert_ne!(
        status, 303,
        "no session for a removed account: {body} {location:?}"
    );
    assert!(users(&s.db).is_empty(), "and no account made instead");
    s.server.stop().await;
}

#[tokio::test]
async fn a_link_completes_only_in_the_session_that_started_it() {
    let Some(s) = Setup::new("a_link_completes_only_in_the_session_that_started_it", None).await
    else {
        return;
    };
    let (code, _, err) = cli(
        &s.db,
        &[
            "users",
            "add",
            "--username",
            "hank",
            "--password",
            "a long local password",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let base = &s.server.base;
    let b = browser();
    let page = authorize(base, &b, &s.client.0).await;
    let r = submit_login(&b, &page, base, "hank", "a long local password").await;
    assert_eq!(r.status(), 303);
    let (href, csrf) = link_button(&b, base).await;
    let callback = through_panva(&b, &href, &s._op.issuer, "hank-upstream").await;
    // Signed out everywhere while at the upstream: the link does not complete.
    let r = b
        .post(format!("{base}/account/sign-out-everywhere"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = b.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 403, "the session that started the link ended");
    let (code, out, err) = cli(&s.db, &["users", "links", "--username", "hank", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        serde_json::json!([])
    );
    s.server.stop().await;
}

/// `[[upstream]]` entries load from TOML; bad ones are refused at start with
/// a message naming the entry; the secret never shows in `Debug`.
#[test]
fn upstream_entries_are_checked_at_start() {
    let dir = TempDir::new();
    let load = |text: &str| {
        let file = dir.0.join("sesame.toml");
        std::fs::write(&file, text).unwrap();
        sesame_server::Config::load(Some(&file), &sesame_server::config::Overrides::default())
    };
    let good = r#"
[[upstream]]
name = "corp"
display_name = "Corp SSO"
issuer = "https://sso.corp.example"
client_id = "sesame"
client_secret = "s3cret-value"
allowed_email_domains = ["corp.example"]
[upstream.claims]
groups = "groups"
"#;
    let config = load(good).unwrap();
    let u = &config.upstream[0];
    assert_eq!(u.scopes(), "openid email profile");
    assert_eq!(u.claims.username, "preferred_username");
    assert_eq!(u.claims.groups.as_deref(), Some("groups"));
    assert!(!u.trust_amr);
    assert!(!format!("{config:?}").contains("s3cret-value"));
    let secret_file = dir.0.join("secret");
    std::fs::write(&secret_file, "from-a-file\n").unwrap();
    let with_file = good.replace(
        "client_secret = \"s3cret-value\"",
        &format!(
            "client_secret_file = {:?}",
            secret_file.display().to_string()
        ),
    );
    assert_eq!(
        load(&with_file).unwrap().upstream[0].secret().unwrap(),
        "from-a-file"
    );
    for (bad, says) in [
        (
            good.replace("name = \"corp\"", "name = \"Corp SSO\""),
            "name must be",
        ),
        (
            good.replace("client_secret = \"s3cret-value\"", ""),
            "exactly one of client_secret",
        ),
        (
            good.replace(
                "client_secret = \"s3cret-value\"",
                "client_secret = \"a\"\nclient_secret_file = \"/x\"",
            ),
            "exactly one of client_secret",
        ),
        (
            good.replace("https://sso.corp.example", "http://sso.corp.example"),
            "https",
        ),
        (
            good.replace("display_name = \"Corp SSO\"", ""),
            "display_name",
        ),
        (
            format!(
                "{good}{}",
                good.replace("[upstream.claims]\ngroups = \"groups\"\n", "")
            ),
            "used twice",
        ),
        (
            good.replace("[upstream.claims]", "scopes = \"email\"\n[upstream.claims]"),
            "openid",
        ),
        (
            good.replace("[\"corp.example\"]", "[\"@corp.example\"]"),
            "not a domain",
        ),
        (
            good.replace("[upstream.claims]", "colour = 1\n[upstream.claims]"),
            "colour",
        ),
    ] {
        let e = load(&bad).unwrap_err().to_string();
        assert!(e.contains(says), "{says}: {e}");
        assert!(!e.contains("s3cret-value"), "{e}");
    }
    // `sesame serve` refuses to start on one.
    let file = dir.0.join("bad.toml");
    std::fs::write(&file, good.replace("name = \"corp\"", "name = \"a/b\"")).unwrap();
    let (code, _, err) = sesame(&[
        "--config",
        file.to_str().unwrap(),
        "--database",
        &dir.db(),
        "serve",
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("upstream \"a/b\": name must be"), "{err}");
}

/// `sesame users links`: lists an account's upstream identity and removes
/// it; the identity's next sign-in then makes a new account.
#[tokio::test]
async fn users_links_lists_and_removes() {
    let Some(s) = Setup::new("users_links_lists_and_removes", None).await else {
        return;
    };
    let first = sign_in(&s, &browser(), "henry").await;
    let (code, out, err) = cli(&s.db, &["users", "links", "--username", "henry", "--json"]);
    assert_eq!(code, 0, "{err}");
    let links: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(links[0]["upstream"], "panva");
    assert_eq!(links[0]["issuer"], s._op.issuer.as_str());
    assert_eq!(links[0]["upstream_subject"], "henry");
    let (code, _, err) = cli(
        &s.db,
        &[
            "users",
            "links",
            "--username",
            "henry",
            "--remove",
            &s._op.issuer,
            "nobody",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("no link"), "{err}");
    let (code, _, err) = cli(
        &s.db,
        &[
            "users",
            "links",
            "--username",
            "henry",
            "--remove",
            &s._op.issuer,
            "henry",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let again = sign_in(&s, &browser(), "henry").await;
    assert_ne!(again["sub"], first["sub"]);
    assert_eq!(users(&s.db).len(), 2);
    s.server.stop().await;
}

/// `end_session = true`: our end_session ends the local session and sends
/// the browser on to panva's end_session with the upstream ID token, which
/// comes back through /upstream/panva/logged-out to the client's
/// post-logout URI; panva's session is gone too.
#[tokio::test]
async fn an_upstream_logout_follows_ours() {
    let test = "an_upstream_logout_follows_ours";
    let Some(s) = Setup::with(test, None, |u| u.end_session = true).await else {
        return;
    };
    let base = &s.server.base;
    let op = &s._op.issuer;
    let b = browser();
    let page = authorize(base, &b, &s.client.0).await;
    let html = b.get(&page).send().await.unwrap().text().await.unwrap();
    let callback = through_panva(&b, &upstream_link(&html, "Panva"), op, "ivy").await;
    let r = b.get(&callback).send().await.unwrap();
    let id_token = downstream_id_token(base, &b, r, (&s.client.0, &s.client.1)).await;

    let r = b
        .get(format!("{base}/end_session"))
        .query(&[
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", BYE),
            ("state", "st"),
        ])
        .send()
        .await
        .unwrap();
    if r.status() != 303 {
        panic!("end_session: {} {}", r.status(), r.text().await.unwrap());
    }
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("sesame_session=;"))
    );
    let to = location(&r);
    assert!(to.starts_with(op), "not on to the upstream: {to}");
    assert!(to.contains("id_token_hint="), "{to}");
    // panva's confirmation form, then back through sesame to the client.
    let html = b.get(&to).send().await.unwrap().text().await.unwrap();
    let xsrf = hidden(&html, "xsrf");
    let action = {
        let start = html.find("action=\"").unwrap() + 8;
        html[start..start + html[start..].find('"').unwrap()].to_owned()
    };
    let r = b
        .post(absolute(&to, &action))
        .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
        .send()
        .await
        .unwrap();
    let back = location(&r);
    assert!(
        back.starts_with(&format!("{base}/upstream/panva/logged-out?")),
        "{back}"
    );
    let r = b.get(&back).send().await.unwrap();
    assert_eq!(location(&r), format!("{BYE}?state=st"));
    // panva's session ended too: a new sign-in there shows its login form.
    let start = format!("{base}/upstream/panva/login?return_to=/");
    through_panva(&b, &start, op, "ivy").await;
    // A sign-in without end_session leaves the upstream alone: covered by
    // the other tests, whose upstream entries do not set it.
    s.server.stop().await;
}
