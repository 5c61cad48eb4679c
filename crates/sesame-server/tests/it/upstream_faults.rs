//! Fault injection with a hand-written upstream on 127.0.0.1:0: ID tokens
//! that fail one check each (iss, aud, nonce, signature) are refused by
//! sesame-rp's checks at `sesame serve`'s callback, and the email domain
//! allow-list counts verified emails only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use sesame_core::{JwkSet, JwsAlgorithm, SigningKey, jws};

use crate::support::*;

/// What the next ID token gets wrong (or not), and its email claims.
#[derive(Clone, Debug)]
struct Fault {
    kind: &'static str,
    sub: String,
    email: String,
    email_verified: bool,
}

#[derive(Clone)]
struct Fake {
    issuer: String,
    key: Arc<SigningKey>,
    other_key: Arc<SigningKey>,
    nonce: Arc<Mutex<Option<String>>>,
    fault: Arc<Mutex<Fault>>,
}

async fn discovery(State(f): State<Fake>) -> Json<Value> {
    Json(json!({
        "issuer": f.issuer,
        "authorization_endpoint": format!("{}/authorize", f.issuer),
        "token_endpoint": format!("{}/token", f.issuer),
        "jwks_uri": format!("{}/jwks", f.issuer),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(f): State<Fake>) -> Json<JwkSet> {
    Json(JwkSet {
        keys: vec![f.key.public_jwk().unwrap()],
    })
}

/// Straight back to the redirect URI with a code (no login page).
async fn authorize(State(f): State<Fake>, Query(q): Query<HashMap<String, String>>) -> Response {
    *f.nonce.lock().unwrap() = q.get("nonce").cloned();
    let mut to = url::Url::parse(&q["redirect_uri"]).unwrap();
    to.query_pairs_mut()
        .append_pair("code", "the-code")
        .append_pair("state", &q["state"])
        .append_pair("iss", &f.issuer);
    Redirect::to(to.as_str()).into_response()
}

async fn token(State(f): State<Fake>) -> Json<Value> {
    let fault = f.fault.lock().unwrap().clone();
    let nonce = f.nonce.lock().unwrap().clone().unwrap_or_default();
    let now = sesame_core::Clock::now(&sesame_core::SystemClock);
    let mut claims = json!({
        "iss": f.issuer, "sub": fault.sub, "aud": "sesame-at-fake",
        "iat": now, "exp": now + 300, "nonce": nonce,
        "email": fault.email, "email_verified": fault.email_verified,
        "preferred_username": fault.sub,
    });
    match fault.kind {
        "iss" => claims["iss"] = json!("https://someone-else.example"),
        "aud" => claims["aud"] = json!("another-client"),
        "nonce" => claims["nonce"] = json!("not-the-nonce-sent"),
        _ => {}
    }
    let key = if fault.kind == "signature" {
        &f.other_key
    } else {
        &f.key
    };
    let mut id_token = jws::sign(key, Some("JWT"), &claims).unwrap();
    if fault.kind == "signature" {
        // Same kid as the published key, so the check is the signature's.
        let header = base64_url(&json!({"alg": "ES256", "typ": "JWT", "kid": f.key.kid()}));
        let rest = id_token.split_once('.').unwrap().1.to_owned();
        id_token = format!("{header}.{rest}");
    }
    Json(json!({
        "access_token": "fake-access-token", "token_type": "Bearer",
        "expires_in": 300, "id_token": id_token,
    }))
}

fn base64_url(v: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// The fake upstream, and a sesame server using it as `fake` (with
/// `domains` as its allow-list).
async fn setup(domains: &[&str]) -> (Fake, Server, TempDir) {
    setup_with(domains, |_| {}).await
}

/// As `setup`, the server's configuration adjusted by `edit`.
async fn setup_with(
    domains: &[&str],
    edit: impl FnOnce(&mut sesame_server::Config),
) -> (Fake, Server, TempDir) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let fake = Fake {
        issuer: issuer.clone(),
        key: Arc::new(SigningKey::generate(JwsAlgorithm::ES256).unwrap()),
        other_key: Arc::new(SigningKey::generate(JwsAlgorithm::ES256).unwrap()),
        nonce: Arc::default(),
        fault: Arc::new(Mutex::new(Fault {
            kind: "none",
            sub: "u1".into(),
            email: "u1@example.com".into(),
            email_verified: true,
        })),
    };
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = TempDir::new();
    let db = dir.db();
    let server = Server::spawn(&db, |c| {
        c.upstream = vec![sesame_server::config::Upstream {
            name: "fake".into(),
            display_name: "Fake".into(),
            issuer,
            client_id: "sesame-at-fake".into(),
            client_secret: Some("fake-secret".into()),
            allowed_email_domains: domains.iter().map(|d| (*d).to_owned()).collect(),
            ..Default::default()
        }];
        edit(c);
    })
    .await;
    (fake, server, dir)
}

/// One sign-in through the fake upstream in a fresh browser: sesame's
/// answer to the callback.
async fn attempt(fake: &Fake, server: &Server, fault: Fault) -> reqwest::Response {
    *fake.fault.lock().unwrap() = fault;
    let b = browser();
    let base = &server.base;
    let r = b
        .get(format!("{base}/upstream/fake/login?return_to=/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = b.get(location(&r)).send().await.unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let callback = location(&r);
    assert!(callback.starts_with(&format!("{base}/upstream/fake/callback?")));
    b.get(callback).send().await.unwrap()
}

fn fault(kind: &'static str, sub: &str) -> Fault {
    Fault {
        kind,
        sub: sub.into(),
        email: format!("{sub}@example.com"),
        email_verified: true,
    }
}

fn signed_in(r: &reqwest::Response) -> bool {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("sesame_session="))
}

#[tokio::test]
async fn upstream_id_tokens_failing_a_check_are_refused() {
    let (fake, server, dir) = setup(&[]).await;
    for kind in ["iss", "aud", "nonce", "signature"] {
        let r = attempt(&fake, &server, fault(kind, &format!("bad-{kind}"))).await;
        assert_eq!(r.status(), 400, "{kind}");
        assert!(!signed_in(&r), "{kind}");
        let body = r.text().await.unwrap();
        assert!(
            body.contains("Signing in with Fake failed"),
            "{kind}: {body}"
        );
    }
    let (code, out, _) = sesame(&["--database", &dir.db(), "users", "list", "--json"]);
    assert_eq!(
        (code, out.trim()),
        (0, "[]"),
        "no account for a refused token"
    );
    // The control: the same upstream's good token signs in.
    let r = attempt(&fake, &server, fault("none", "good")).await;
    assert_eq!(r.status(), 303);
    assert!(signed_in(&r));
    server.stop().await;
}

#[tokio::test]
async fn the_email_domain_allow_list_counts_verified_emails_only() {
    let (fake, server, dir) = setup(&["example.com"]).await;
    let mut other = fault("none", "outsider");
    other.email = "outsider@elsewhere.example".into();
    let r = attempt(&fake, &server, other).await;
    assert_eq!(r.status(), 403);
    assert!(!signed_in(&r));
    assert!(r.text().await.unwrap().contains("may not sign in here"));
    let mut unverified = fault("none", "unverified");
    unverified.email_verified = false;
    let r = attempt(&fake, &server, unverified).await;
    assert_eq!(r.status(), 403, "an unverified email in the domain counts");
    assert!(!signed_in(&r));
    let r = attempt(&fake, &server, fault("none", "insider")).await;
    assert_eq!(r.status(), 303);
    assert!(signed_in(&r));
    let (_, out, _) = sesame(&["--database", &dir.db(), "users", "list", "--json"]);
    let users: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
    assert_eq!(users[0]["username"], "insider");
    server.stop().await;
}

/// Starting upstream logins counts against the address like login
/// failures (`login_per_ip_per_minute`): past it, 429 with Retry-After.
#[tokio::test]
async fn upstream_login_starts_are_limited_per_address() {
    let (_fake, server, _dir) =
        setup_with(&[], |c| c.rate_limits.login_per_ip_per_minute = 3).await;
    let b = browser();
    let start = format!("{}/upstream/fake/login?return_to=/", server.base);
    for _ in 0..3 {
        assert_eq!(b.get(&start).send().await.unwrap().status(), 303);
    }
    let r = b.get(&start).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    // An unknown upstream is a 404, not a login.
    let r = b
        .get(format!("{}/upstream/nope/login", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    server.stop().await;
}
