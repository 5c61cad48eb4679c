//! The relying party's hot paths, as ratios:
//! - an authenticated request through the session layer + RequireLogin + Claims
//!   against the same handler bare (target: < 10 µs of overhead);
//! - bearer JWT validations per second against raw signature verification.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use axum::routing::get;
use base64::Engine as _;
use criterion::Criterion;
use serde_json::json;
use sesame_core::{
    Clock, Issuer, JwsAlgorithm, KeySet, ProviderMetadata, SigningKey, SystemClock, jws,
};
use sesame_rp::{BearerAuth, Claims, OidcClient, RequireLogin};
use tower::ServiceExt as _;
use tower_sessions::Session;

const ISS: &str = "https://op.example";

async fn client(keys: KeySet) -> OidcClient {
    let metadata = ProviderMetadata {
        issuer: ISS.into(),
        authorization_endpoint: Some(format!("{ISS}/authorize")),
        token_endpoint: Some(format!("{ISS}/token")),
        jwks_uri: Some(format!("{ISS}/jwks")),
        ..ProviderMetadata::default()
    };
    OidcClient::builder(Issuer::new(ISS).unwrap(), "rp")
        .with_client_secret("secret")
        .with_redirect_uri("https://rp.example/callback".parse().unwrap())
        .with_metadata(metadata)
        .with_static_keys(keys)
        .build()
        .await
        .unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = SigningKey::generate(JwsAlgorithm::RS256).unwrap();
    let keys = KeySet::from_keys([key.verifying_key().unwrap()]);
    let oidc = rt.block_on(client(keys));

    // --- per-request overhead ---
    let bare: Router = Router::new().route("/", get(|| async { "hello" }));
    let protected: Router = Router::new()
        .route(
            "/",
            get(|c: Claims| async move {
                black_box(c.subject);
                "hello"
            }),
        )
        .layer(RequireLogin::new(oidc.clone()))
        .route(
            "/sign-in",
            get(|s: Session| async move {
                sesame_rp::testing::sign_in(
                    &s,
                    ISS,
                    "alice",
                    serde_json::Map::new(),
                    SystemClock.now(),
                )
                .await
                .unwrap();
                "ok"
            }),
        )
        .layer(sesame_rp::session_layer(true));
    let cookie = rt.block_on(async {
        let r = protected
            .clone()
            .oneshot(Request::get("/sign-in").body(Body::empty()).unwrap())
            .await
            .unwrap();
        r.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    });
    let run = |app: &Router, with_cookie: bool| {
        let mut req = Request::get("/");
        if with_cookie {
            req = req.header(header::COOKIE, &cookie);
        }
        let r = rt
            .block_on(app.clone().oneshot(req.body(Body::empty()).unwrap()))
            .unwrap();
        assert_eq!(r.status(), 200);
    };

    // --- bearer JWT ---
    let now = SystemClock.now();
    let token = jws::sign(&key, Some("at+jwt"), &json!({"iss": ISS, "aud": "https://api.example", "sub": "alice", "client_id": "c", "iat": now, "exp": now + 3600, "scope": "read"})).unwrap();
    let bearer = BearerAuth::jwt(oidc, "https://api.example");
    let (message, signature) = token.rsplit_once('.').unwrap();
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .unwrap();
    let raw = key.verifying_key().unwrap();

    let mut c = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    c.bench_function("request/bare", |b| b.iter(|| run(&bare, false)));
    c.bench_function("request/require-login+claims", |b| {
        b.iter(|| run(&protected, true))
    });
    c.bench_function("bearer/jwt-check", |b| {
        b.iter(|| rt.block_on(bearer.check(black_box(&token))).unwrap())
    });
    c.bench_function("bearer/raw-verify", |b| {
        b.iter(|| {
            assert!(raw.verify(
                JwsAlgorithm::RS256,
                black_box(message.as_bytes()),
                &signature
            ))
        })
    });
    c.final_summary();

    let time = |iters: u32, f: &mut dyn FnMut()| {
        let v: Vec<Duration> = (0..15)
            .map(|_| {
                let s = Instant::now();
                for _ in 0..iters {
                    f();
                }
                s.elapsed() / iters
            })
            .collect();
        median(v)
    };
    let bare_t = time(2000, &mut || run(&bare, false));
    let prot_t = time(2000, &mut || run(&protected, true));
    let jwt_t = time(500, &mut || {
        rt.block_on(bearer.check(&token)).unwrap();
    });
    let raw_t = time(500, &mut || {
        assert!(raw.verify(JwsAlgorithm::RS256, message.as_bytes(), &signature));
    });
    println!("\nrelying-party hot paths (median of 15 rounds)");
    println!(
        "authenticated request: {:.1} µs vs bare {:.1} µs -> overhead {:.1} µs (target < 10 µs)",
        prot_t.as_secs_f64() * 1e6,
        bare_t.as_secs_f64() * 1e6,
        (prot_t.as_secs_f64() - bare_t.as_secs_f64()) * 1e6
    );
    println!(
        "bearer JWT checks: {:.0}/s vs raw RS256 verifications {:.0}/s -> {:.1}% of the limit (target >= 50%)",
        1.0 / jwt_t.as_secs_f64(),
        1.0 / raw_t.as_secs_f64(),
        100.0 * raw_t.as_secs_f64() / jwt_t.as_secs_f64()
    );
}
