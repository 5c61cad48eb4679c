//! Request objects (OIDC Core §6, RFC 9101): `request` by value and
//! `request_uri` by reference, signed with the client's keys; every
//! refusal with its own error.

use axum::routing::get;
use base64::Engine as _;
use serde_json::{Value, json};
use sesame_core::{Clock as _, ErrorCode, JwkSet, JwsAlgorithm, SigningKey, jws};

use crate::support::*;

struct Rp {
    key: SigningKey,
}

impl Rp {
    fn new(alg: JwsAlgorithm) -> Self {
        Self {
            key: SigningKey::generate(alg).unwrap(),
        }
    }

    fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.key.public_jwk().unwrap()],
        }
    }

    fn sign(&self, claims: &Value) -> String {
        jws::sign(&self.key, Some("oauth-authz-req+jwt"), claims).unwrap()
    }
}

fn unsigned(claims: &Value) -> String {
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    format!("{}.{}.", b64(&json!({"alg": "none"})), b64(claims))
}

/// The object's claims for client `id`, with PKCE, state and nonce of its own.
fn object(h: &Harness, id: &str, challenge: &str) -> Value {
    json!({
        "iss": id,
        "aud": h.base,
        "client_id": id,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "openid email",
        "state": "state-in-object",
        "nonce": "nonce-in-object",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "exp": h.clock.now() + 300,
    })
}

/// The query beside the object: what OIDC Core §6.1 still wants there.
fn query<'a>(id: &'a str, name: &'a str, value: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", id),
        ("response_type", "code"),
        ("scope", "openid"),
        ("redirect_uri", REDIRECT),
        ("state", "state-in-query"),
        (name, value),
    ]
}

/// Follows login and consent for `user`; the redirect's parameters.
async fn through(
    h: &Harness,
    params: &[(&str, &str)],
    user: &str,
) -> std::collections::HashMap<String, String> {
    let mut r = h.authorize(params).await;
    if location_opt(&r).is_some_and(|l| l.contains("/test-login")) {
        r = h.login(r, user).await;
    }
    if r.status() == 200 {
        r = h.consent(r, true).await;
    }
    redirect_params(&r)
}

#[tokio::test]
async fn a_signed_request_object_by_value_wins_over_the_query() {
    let h = start().await;
    let rp = Rp::new(JwsAlgorithm::ES256);
    h.client("ro", |c| c.jwks = Some(rp.jwks())).await;
    let verifier = sesame_core::CodeVerifier::random().unwrap();
    let challenge = verifier.challenge(sesame_core::PkceMethod::S256);
    let jwt = rp.sign(&object(&h, "ro", challenge.as_str()));
    let q = through(&h, &query("ro", "request", &jwt), "rita").await;
    assert_eq!(q["state"], "state-in-object", "{q:?}");
    let mut q = q;
    q.insert("code_verifier".into(), verifier.secret().to_owned());
    let tokens = json(h.redeem("ro", &q).await).await;
    let id = h
        .validate(
            "ro",
            tokens["id_token"].as_str().unwrap(),
            Some("nonce-in-object"),
        )
        .await;
    // The object's scope (openid email), not the query's (openid).
    assert_eq!(id.claims.profile.email.as_deref(), Some("rita@example.com"));
}

#[tokio::test]
async fn request_objects_that_do_not_check_out_are_refused() {
    let h = start().await;
    let rp = Rp::new(JwsAlgorithm::ES256);
    let stranger = Rp::new(JwsAlgorithm::ES256);
    h.client("ro", |c| c.jwks = Some(rp.jwks())).await;
    h.client("pinned", |c| {
        c.jwks = Some(rp.jwks());
        c.request_object_signing_alg = Some("RS256".into());
    })
    .await;
    h.client("keyless", |_| {}).await;
    let ch = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let base = object(&h, "ro", ch);
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        edit(&mut v);
        v
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("ro", unsigned(&base), "alg none"),
        ("ro", stranger.sign(&base), "signature"),
        (
            "ro",
            rp.sign(&with(&|v| v["client_id"] = json!("other"))),
            "client_id",
        ),
        ("ro", rp.sign(&with(&|v| v["iss"] = json!("other"))), "iss"),
        (
            "ro",
            rp.sign(&with(&|v| v["aud"] = json!("https://elsewhere.example"))),
            "aud",
        ),
        (
            "ro",
            rp.sign(&with(&|v| v["exp"] = json!(h.clock.now() - 3600))),
            "expired",
        ),
        (
            "ro",
            rp.sign(&with(&|v| v["request_uri"] = json!("https://x.example/r"))),
            "must not contain",
        ),
        ("ro", "not-a-jwt".to_owned(), "not a valid JWS"),
        (
            "pinned",
            rp.sign(&with(&|v| {
                v["iss"] = json!("pinned");
                v["client_id"] = json!("pinned");
            })),
            "registered request_object_signing_alg",
        ),
        (
            "keyless",
            rp.sign(&with(&|v| {
                v["iss"] = json!("keyless");
                v["client_id"] = json!("keyless");
            })),
            "no registered keys",
        ),
    ];
    for (client, jwt, want) in cases {
        let r = h.authorize(&query(client, "request", &jwt)).await;
        let q = redirect_params(&r);
        assert_eq!(
            q["error"],
            ErrorCode::InvalidRequestObject.as_str(),
            "{want}: {q:?}"
        );
        assert!(q["error_description"].contains(want), "{want}: {q:?}");
        // The query's state: the object was not trusted.
        assert_eq!(q["state"], "state-in-query");
    }
    // Both request and request_uri.
    let jwt = rp.sign(&base);
    let mut both = query("ro", "request", &jwt);
    both.push(("request_uri", "https://rp.example/r.jwt"));
    let q = redirect_params(&h.authorize(&both).await);
    assert_eq!(q["error"], "invalid_request");
}

#[tokio::test]
async fn unsigned_objects_only_for_clients_registered_with_alg_none() {
    let h = start().await;
    h.client("plain", |c| {
        c.request_object_signing_alg = Some("none".into())
    })
    .await;
    let verifier = sesame_core::CodeVerifier::random().unwrap();
    let challenge = verifier.challenge(sesame_core::PkceMethod::S256);
    let mut claims = object(&h, "plain", challenge.as_str());
    claims.as_object_mut().unwrap().remove("iss");
    let q = through(&h, &query("plain", "request", &unsigned(&claims)), "una").await;
    assert_eq!(q["state"], "state-in-object", "{q:?}");
    assert!(q.contains_key("code"));
}

#[tokio::test]
async fn request_uri_is_fetched_only_when_registered_and_bounded() {
    let h = start().await;
    let rp = Rp::new(JwsAlgorithm::RS256);
    let verifier = sesame_core::CodeVerifier::random().unwrap();
    let challenge = verifier.challenge(sesame_core::PkceMethod::S256);
    let jwt = rp.sign(&object(&h, "byref", challenge.as_str()));
    let huge = "a".repeat(100 * 1024);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let at = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/ro.jwt", get(move || async move { jwt }))
        .route("/huge.jwt", get(move || async move { huge }))
        .route(
            "/missing.jwt",
            get(|| async { axum::http::StatusCode::NOT_FOUND }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let registered: Vec<String> = ["ro.jwt#sha", "huge.jwt", "missing.jwt"]
        .iter()
        .map(|p| format!("{at}/{p}"))
        .collect();
    h.client("byref", |c| {
        c.jwks = Some(rp.jwks());
        c.request_uris = registered.clone();
    })
    .await;

    let uri = format!("{at}/ro.jwt");
    let q = through(&h, &query("byref", "request_uri", &uri), "rob").await;
    assert_eq!(q["state"], "state-in-object", "{q:?}");
    let mut q = q;
    q.insert("code_verifier".into(), verifier.secret().to_owned());
    assert_eq!(h.redeem("byref", &q).await.status(), 200);

    for (uri, want) in [
        (format!("{at}/other.jwt"), "registered request_uris"),
        (format!("{at}/huge.jwt"), "64 KiB"),
        (format!("{at}/missing.jwt"), "HTTP 404"),
        (format!("{at}/{}", "x".repeat(600)), "512"),
    ] {
        let q = redirect_params(&h.authorize(&query("byref", "request_uri", &uri)).await);
        assert_eq!(q["error"], "invalid_request_uri", "{want}: {q:?}");
        assert!(q["error_description"].contains(want), "{want}: {q:?}");
    }
}

#[tokio::test]
async fn discovery_and_registration_speak_request_objects() {
    let h = start_with(|b| {
        let mut s = sesame_op::Settings::default();
        s.registration = sesame_op::Registration::Open;
        s.allow_private_outbound = true;
        b.with_settings(s)
    })
    .await;
    let d = json(
        h.http
            .get(h.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(d["request_parameter_supported"], true);
    assert_eq!(d["request_uri_parameter_supported"], true);
    assert_eq!(d["require_request_uri_registration"], true);
    let algs = d["request_object_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algs.contains(&json!("RS256")) && algs.contains(&json!("none")));
    assert!(!algs.contains(&json!("HS256")));

    let register = |body: Value| {
        let h = &h;
        async move {
            h.http
                .post(h.url("/register"))
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let r = register(json!({
        "redirect_uris": [REDIRECT],
        "request_uris": ["http://127.0.0.1:9/r.jwt#hash"],
        "request_object_signing_alg": "none",
    }))
    .await;
    assert_eq!(r.status(), 201);
    let v = json(r).await;
    assert_eq!(v["request_uris"], json!(["http://127.0.0.1:9/r.jwt#hash"]));
    assert_eq!(v["request_object_signing_alg"], "none");
    // Not a URL at all (pyoidc's default, a relative path): dropped, and the
    // answer shows that none was registered (RFC 7591 §3.2.1).
    let r = register(json!({"redirect_uris": [REDIRECT], "request_uris": ["requests/abc"]})).await;
    assert_eq!(r.status(), 201);
    assert!(json(r).await.get("request_uris").is_none());
    for bad in [
        json!({"redirect_uris": [REDIRECT], "request_object_signing_alg": "HS256"}),
        json!({"redirect_uris": [REDIRECT], "request_uris": ["ftp://x.example/r"]}),
        json!({"redirect_uris": [REDIRECT], "request_uris": ["http://10.0.0.1/r.jwt"]}),
    ] {
        let r = register(bad.clone()).await;
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(json(r).await["error"], "invalid_client_metadata");
    }
}
