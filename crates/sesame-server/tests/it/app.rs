//! `sesame app`'s options (issue 14), each end to end: the real binary against
//! a real `sesame serve` on 127.0.0.1, signing in as a user through the
//! provider's login form (and consent page, form_post page when there is one).

use serde_json::Value;

use crate::support::*;

pub(crate) const USER: (&str, &str) = ("ann", "ann-password");

/// A `sesame serve` with the user `ann`: (its directory, database, process, base URL).
pub(crate) async fn provider(env: &[(&str, &str)]) -> (TempDir, String, Running, String) {
    let dir = TempDir::new();
    let db = dir.db();
    let (code, _, err) = sesame(&[
        "--database",
        &db,
        "users",
        "add",
        "--username",
        USER.0,
        "--password",
        USER.1,
    ]);
    assert_eq!(code, 0, "{err}");
    let (server, base) = Running::serve(&db, env).await;
    (dir, db, server, base)
}

/// `sesame clients add` for an app at `app` (skipping consent): (id, secret).
pub(crate) fn add_client(db: &str, app: &str, extra: &[&str]) -> (String, String) {
    let callback = format!("{app}/callback");
    let home = format!("{app}/");
    let mut args = vec![
        "--database",
        db,
        "clients",
        "add",
        "--name",
        "App",
        "--redirect-uri",
        &callback,
        "--post-logout-redirect-uri",
        &home,
        "--skip-consent",
        "--json",
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = sesame(&args);
    assert_eq!(code, 0, "{err}");
    let client: Value = serde_json::from_str(out.trim()).unwrap();
    (
        client["client_id"].as_str().unwrap().to_owned(),
        client["client_secret"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// `sesame app --issuer ISSUER --listen 127.0.0.1:PORT ARGS…`, started.
pub(crate) fn app_on(port: u16, issuer: &str, args: &[&str]) -> Running {
    let listen = format!("127.0.0.1:{port}");
    let mut all: Vec<String> = ["app", "--issuer", issuer, "--listen", &listen]
        .map(str::to_owned)
        .into();
    // A random client id or secret may begin with `-`: give it as `--flag=value`.
    let mut rest = args.iter().peekable();
    while let Some(a) = rest.next() {
        match rest.peek() {
            Some(v) if matches!(*a, "--client-id" | "--client-secret") && v.starts_with('-') => {
                all.push(format!("{a}={v}"));
                rest.next();
            }
            _ => all.push((*a).to_owned()),
        }
    }
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    Running::start(&all, "Demo app on")
}

fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x3d;", "=")
        .replace("&#x2b;", "+")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// The form_post page's action and fields.
fn form_post(html: &str) -> (String, Vec<(String, String)>) {
    let action = {
        let m = "action=\"";
        let s = html.find(m).unwrap() + m.len();
        unescape(&html[s..s + html[s..].find('"').unwrap()])
    };
    let mut fields = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("type=\"hidden\" name=\"") {
        rest = &rest[i + "type=\"hidden\" name=\"".len()..];
        let name = rest[..rest.find('"').unwrap()].to_owned();
        let v = rest.find("value=\"").unwrap() + "value=\"".len();
        let value = unescape(&rest[v..v + rest[v..].find('"').unwrap()]);
        fields.push((name, value));
    }
    (action, fields)
}

/// From the authorization URL to the app's answer to the callback: the
/// provider's login form when it asks (`login_asked`), consent, form_post.
async fn complete(
    b: &reqwest::Client,
    provider: &str,
    authorize: &str,
) -> (reqwest::Response, bool) {
    let mut r = b.get(authorize).send().await.unwrap();
    let mut login_asked = false;
    loop {
        if r.status().is_redirection() {
            let to = absolute(provider, &location(&r));
            if to.starts_with(&format!("{provider}/login?")) {
                login_asked = true;
                r = submit_login(b, &to, provider, USER.0, USER.1).await;
            } else if to.starts_with(provider) {
                r = b.get(&to).send().await.unwrap();
            } else {
                return (b.get(&to).send().await.unwrap(), login_asked);
            }
            continue;
        }
        assert_eq!(r.status(), 200, "{}", r.url());
        let html = r.text().await.unwrap();
        if html.contains("name=\"interaction\"") {
            r = b
                .post(format!("{provider}/consent"))
                .form(&[
                    ("interaction", hidden(&html, "interaction")),
                    ("csrf_token", hidden(&html, "csrf_token")),
                    ("allow", "1".into()),
                ])
                .send()
                .await
                .unwrap();
            continue;
        }
        let (action, fields) = form_post(&html);
        return (
            b.post(&action).form(&fields).send().await.unwrap(),
            login_asked,
        );
    }
}

/// `/login` at the app, the provider's pages, the callback: signed in (the
/// authorization URL, and whether the login form was shown).
pub(crate) async fn sign_in(b: &reqwest::Client, app: &str, provider: &str) -> (url::Url, bool) {
    let r = b.get(format!("{app}/login")).send().await.unwrap();
    let authorize = location(&r);
    assert!(
        authorize.starts_with(&format!("{provider}/authorize?")),
        "{authorize}"
    );
    let (r, login_asked) = complete(b, provider, &authorize).await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert_eq!(location(&r), "/");
    (url::Url::parse(&authorize).unwrap(), login_asked)
}

pub(crate) async fn me(b: &reqwest::Client, app: &str) -> Value {
    let r = b.get(format!("{app}/me")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

pub(crate) fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `sesame app ARGS…` that must fail: its one error line.
pub(crate) fn refused(args: &[&str]) -> String {
    let mut all = vec![
        "app",
        "--issuer",
        "http://127.0.0.1:9",
        "--listen",
        "127.0.0.1:0",
    ];
    all.extend_from_slice(args);
    let (code, out, err) = sesame(&all);
    assert_eq!(code, 1, "{args:?}: {out} {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{args:?}: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    lines[0].to_owned()
}

#[tokio::test]
async fn response_type_code_id_token_by_form_post_signs_in() {
    let (_dir, db, _server, op) = provider(&[]).await;
    let port = free_port();
    let app = format!("http://127.0.0.1:{port}");
    let (id, secret) = add_client(
        &db,
        &app,
        &[
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "implicit",
            "--response-type",
            "code id_token",
        ],
    );
    let _app = app_on(
        port,
        &op,
        &[
            "--client-id",
            &id,
            "--client-secret",
            &secret,
            "--scope",
            "openid profile",
            "--response-type",
            "code id_token",
            "--response-mode",
            "form_post",
        ],
    );
    let b = browser();
    let (authorize, login_asked) = sign_in(&b, &app, &op).await;
    assert!(login_asked);
    assert_eq!(
        param(&authorize, "response_type").as_deref(),
        Some("code id_token")
    );
    assert_eq!(
        param(&authorize, "response_mode").as_deref(),
        Some("form_post")
    );
    assert!(param(&authorize, "code_challenge").is_some());
    assert_eq!(me(&b, &app).await["claims"]["preferred_username"], "ann");
    // A second login rides on the provider's session (no form): the baseline of prompt=login.
    let r = b.get(format!("{app}/login")).send().await.unwrap();
    let (r, login_asked) = complete(&b, &op, &location(&r)).await;
    assert_eq!(r.status(), 303);
    assert!(!login_asked);
}

/// `code token` (added to sesame-rp for issue 14): the code redeemed, the
/// token endpoint's tokens kept.
#[tokio::test]
async fn response_type_code_token_signs_in() {
    let (_dir, db, _server, op) = provider(&[]).await;
    let port = free_port();
    let app = format!("http://127.0.0.1:{port}");
    let (id, secret) = add_client(
        &db,
        &app,
        &[
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "implicit",
            "--response-type",
            "code token",
        ],
    );
    let _app = app_on(
        port,
        &op,
        &[
            "--client-id",
            &id,
            "--client-secret",
            &secret,
            "--response-type",
            "code token",
        ],
    );
    let b = browser();
    let (authorize, _) = sign_in(&b, &app, &op).await;
    assert_eq!(
        param(&authorize, "response_type").as_deref(),
        Some("code token")
    );
    assert_eq!(
        param(&authorize, "response_mode").as_deref(),
        Some("form_post")
    );
    let me = me(&b, &app).await;
    assert_eq!(me["claims"]["preferred_username"], "ann");
    assert!(me["access_token_hash"].is_string(), "{me}");
}

#[tokio::test]
async fn response_type_and_mode_bad_values_are_one_error_line() {
    for (args, needle) in [
        (
            &["--client-id", "x", "--response-type", "token"][..],
            "--response-type",
        ),
        (
            &["--client-id", "x", "--response-type", "code code"],
            "--response-type",
        ),
        (
            &["--client-id", "x", "--response-mode", "fragment"],
            "fragment",
        ),
        (
            &["--client-id", "x", "--response-mode", "jwt"],
            "--response-mode",
        ),
        (
            &[
                "--client-id",
                "x",
                "--response-type",
                "id_token",
                "--response-mode",
                "query",
            ],
            "form_post",
        ),
    ] {
        let line = refused(args);
        assert!(line.contains(needle), "{args:?}: {line}");
    }
}

#[tokio::test]
async fn id_token_alg_narrows_the_allowlist() {
    let (_dir, db, _server, op) = provider(&[]).await;
    // The provider signs this client's ID tokens RS256.
    let port = free_port();
    let app = format!("http://127.0.0.1:{port}");
    let (id, secret) = add_client(&db, &app, &[]);
    let creds = [
        "--client-id",
        id.as_str(),
        "--client-secret",
        secret.as_str(),
    ];
    {
        let mut args = creds.to_vec();
        args.extend(["--id-token-alg", "ES256", "--id-token-alg", "EdDSA"]);
        let _app = app_on(port, &op, &args);
        let b = browser();
        let r = b.get(format!("{app}/login")).send().await.unwrap();
        let (r, _) = complete(&b, &op, &location(&r)).await;
        assert_eq!(r.status(), 400, "an RS256 ID token is refused");
        let me = b.get(format!("{app}/me")).send().await.unwrap();
        assert_eq!(me.status(), 401);
    }
    let mut args = creds.to_vec();
    args.extend(["--id-token-alg", "RS256"]);
    let _app = app_on(port, &op, &args);
    let b = browser();
    sign_in(&b, &app, &op).await;
    assert_eq!(me(&b, &app).await["claims"]["preferred_username"], "ann");

    for (args, needle) in [
        (
            &["--client-id", "x", "--id-token-alg", "none"][..],
            "--id-token-alg",
        ),
        (
            &["--client-id", "x", "--id-token-alg", "HS512"],
            "--id-token-alg",
        ),
        (
            &["--client-id", "x", "--id-token-alg", "HS256"],
            "--client-secret",
        ),
    ] {
        let line = refused(args);
        assert!(line.contains(needle), "{args:?}: {line}");
    }
}

#[tokio::test]
async fn auth_params_reach_the_provider_and_prompt_login_forces_the_form() {
    let (_dir, db, _server, op) = provider(&[]).await;
    let port = free_port();
    let app = format!("http://127.0.0.1:{port}");
    let (id, secret) = add_client(&db, &app, &[]);
    let _app = app_on(
        port,
        &op,
        &[
            "--client-id",
            &id,
            "--client-secret",
            &secret,
            "--auth-param",
            "prompt=login",
            "--auth-param",
            "max_age=600",
            "--auth-param",
            "ui_locales=fr en",
            "--auth-param",
            r#"claims={"id_token":{"email":null}}"#,
        ],
    );
    let b = browser();
    let (authorize, login_asked) = sign_in(&b, &app, &op).await;
    assert!(login_asked);
    assert_eq!(param(&authorize, "prompt").as_deref(), Some("login"));
    assert_eq!(param(&authorize, "max_age").as_deref(), Some("600"));
    assert_eq!(param(&authorize, "ui_locales").as_deref(), Some("fr en"));
    assert_eq!(
        param(&authorize, "claims").as_deref(),
        Some(r#"{"id_token":{"email":null}}"#)
    );
    // Signed in at the provider already, prompt=login asks for the password again.
    let (_, login_asked) = sign_in(&b, &app, &op).await;
    assert!(login_asked, "prompt=login shows the login form");

    for name in [
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "redirect_uri",
        "client_id",
        "response_type",
        "response_mode",
        "scope",
    ] {
        let p = format!("{name}=x");
        let line = refused(&["--client-id", "x", "--auth-param", &p]);
        assert!(line.contains(&format!("--auth-param {name}")), "{line}");
    }
    for bad in ["prompt", "=x"] {
        let line = refused(&["--client-id", "x", "--auth-param", bad]);
        assert!(line.contains("NAME=VALUE"), "{line}");
    }
}

#[tokio::test]
async fn private_key_jwt_with_the_apps_published_jwk() {
    let (dir, db, _server, op) = provider(&[("SESAME_ALLOW_PRIVATE_OUTBOUND", "true")]).await;
    let key = sesame_core::SigningKey::generate(sesame_core::JwsAlgorithm::ES256).unwrap();
    let pem = dir.0.join("app-key.pem");
    std::fs::write(&pem, key.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    let port = free_port();
    let app = format!("http://127.0.0.1:{port}");
    let jwks_uri = format!("{app}/jwks.json");
    // sesame-op on its defaults takes only the issuer as the assertions'
    // `aud` (S15): the app names it with --assertion-audience issuer.
    let (id, _) = add_client(
        &db,
        &app,
        &["--auth-method", "private_key_jwt", "--jwks-uri", &jwks_uri],
    );
    let running = app_on(
        port,
        &op,
        &[
            "--client-id",
            &id,
            "--private-key",
            pem.to_str().unwrap(),
            "--assertion-audience",
            "issuer",
        ],
    );
    // The public JWK Set, printed and served.
    let printed = running.line_with("Public JWK Set").to_owned();
    assert!(printed.contains(&jwks_uri), "{printed}");
    let served: Value = reqwest::get(&jwks_uri).await.unwrap().json().await.unwrap();
    assert_eq!(served["keys"][0]["kid"], key.kid());
    assert!(served["keys"][0].get("d").is_none(), "public only");
    let printed: Value = serde_json::from_str(printed.split_once("): ").unwrap().1).unwrap();
    assert_eq!(printed, served);
    let b = browser();
    sign_in(&b, &app, &op).await;
    assert_eq!(me(&b, &app).await["claims"]["preferred_username"], "ann");

    let missing = dir.0.join("missing.pem");
    let not_a_key = dir.0.join("not-a-key.pem");
    std::fs::write(&not_a_key, "hello").unwrap();
    for (args, needle) in [
        (
            vec![
                "--client-id",
                "x",
                "--private-key",
                missing.to_str().unwrap(),
            ],
            "cannot read --private-key",
        ),
        (
            vec![
                "--client-id",
                "x",
                "--private-key",
                not_a_key.to_str().unwrap(),
            ],
            "PKCS#8",
        ),
        (
            vec!["--client-id", "x", "--auth-method", "private_key_jwt"],
            "--private-key",
        ),
        (
            vec!["--client-id", "x", "--auth-method", "magic"],
            "--auth-method",
        ),
        (
            vec!["--client-id", "x", "--assertion-audience", "everyone"],
            "--assertion-audience",
        ),
    ] {
        let line = refused(&args);
        assert!(line.contains(needle), "{args:?}: {line}");
    }
}

#[tokio::test]
async fn refresh_renews_the_access_token_before_it_expires() {
    // Access tokens live 30 s: inside SessionRefresh's minute, so every request refreshes.
    let (_dir, db, _server, op) = provider(&[("SESAME_ACCESS_TOKEN_TTL", "30")]).await;
    for refresh in [true, false] {
        let port = free_port();
        let app = format!("http://127.0.0.1:{port}");
        let (id, secret) = add_client(
            &db,
            &app,
            &[
                "--grant-type",
                "authorization_code",
                "--grant-type",
                "refresh_token",
            ],
        );
        let mut args = vec![
            "--client-id",
            id.as_str(),
            "--client-secret",
            secret.as_str(),
            "--scope",
            "openid offline_access",
        ];
        if refresh {
            args.push("--refresh");
        }
        let _app = app_on(port, &op, &args);
        let b = browser();
        let (authorize, _) = sign_in(&b, &app, &op).await;
        assert_eq!(
            param(&authorize, "scope").as_deref(),
            Some("openid offline_access")
        );
        let first = me(&b, &app).await;
        let second = me(&b, &app).await;
        let (h1, h2) = (&first["access_token_hash"], &second["access_token_hash"]);
        assert!(h1.is_string() && h2.is_string(), "{first} {second}");
        assert_eq!(first["sub"], second["sub"]);
        if refresh {
            assert_ne!(h1, h2, "refreshed");
        } else {
            assert_eq!(h1, h2, "never refreshed without --refresh");
        }
    }
}

#[tokio::test]
async fn register_makes_a_client_at_the_provider_and_signs_in() {
    let (_dir, _db, _server, op) = provider(&[("SESAME_REGISTRATION", "open")]).await;
    let port = free_port();
    let app = format!("http://127.0.0.1:{port}");
    let running = app_on(port, &op, &["--register", "--scope", "openid profile"]);
    let line = running.line_with("Registered client id").to_owned();
    let id = line.rsplit(' ').next().unwrap().to_owned();
    let b = browser();
    let (authorize, _) = sign_in(&b, &app, &op).await;
    assert_eq!(param(&authorize, "client_id").as_deref(), Some(id.as_str()));
    assert_eq!(me(&b, &app).await["claims"]["preferred_username"], "ann");

    for (args, needle) in [
        (&[][..], "--register"),
        (&["--register", "--client-id", "x"], "not both"),
        (
            &["--client-id", "x", "--initial-access-token", "t"],
            "--register",
        ),
    ] {
        let line = refused(args);
        assert!(line.contains(needle), "{args:?}: {line}");
    }
}
