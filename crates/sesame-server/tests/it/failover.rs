//! Two `sesame serve` processes on one PostgreSQL database: started together
//! on an empty database they publish one JWKS; one killed with SIGKILL in
//! the middle of a load, the other keeps serving with no error and redeems
//! the codes and refresh tokens the dead one issued.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use sesame_core::{JwkSet, JwsAlgorithm, KeySet};

use crate::support::*;

const KEY: &str = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";
const CB: &str = "https://rp.example/cb";

/// A code issued by `base` (signed in there), not redeemed: (code, verifier).
async fn code_from(base: &str, client_id: &str, scope: &str) -> (String, String) {
    let b = browser();
    let verifier = sesame_core::CodeVerifier::random().unwrap();
    let challenge = verifier.challenge(sesame_core::PkceMethod::S256);
    let r = b
        .get(format!("{base}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", CB),
            ("scope", scope),
            ("nonce", "n"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let login = absolute(base, &location(&r));
    let r = submit_login(&b, &login, base, "pat", "pat-password").await;
    let r = b.get(absolute(base, &location(&r))).send().await.unwrap();
    let cb = url::Url::parse(&location(&r)).unwrap();
    let code = cb.query_pairs().find(|(k, _)| k == "code").unwrap().1;
    (code.into_owned(), verifier.secret().to_owned())
}

/// A token request to `base`: the status and the JSON body.
async fn token(
    base: &str,
    (id, secret): (&str, &str),
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

/// Client-credentials requests to `base` until `stop`: (ok, errors).
/// `served` counts the requests answered with a token as they come (the
/// returned totals are known only at the end).
fn load(
    base: String,
    (id, secret): (String, String),
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU32>,
) -> tokio::task::JoinHandle<(u32, u32)> {
    tokio::spawn(async move {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let (ok, errors) = (AtomicU32::new(0), AtomicU32::new(0));
        while !stop.load(Ordering::SeqCst) {
            let answer = http
                .post(format!("{base}/token"))
                .basic_auth(&id, Some(&secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await;
            match answer {
                Ok(r) if r.status() == 200 => {
                    let body: serde_json::Value = r.json().await.unwrap_or_default();
                    let counter = if body["access_token"].is_string() {
                        served.fetch_add(1, Ordering::SeqCst);
                        &ok
                    } else {
                        &errors
                    };
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                _ => {
                    errors.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        (ok.into_inner(), errors.into_inner())
    })
}

#[tokio::test]
async fn two_serve_processes_on_postgres_survive_a_kill_9_of_one() {
    let Some(base_url) = pg_url("two_serve_processes_on_postgres_survive_a_kill_9_of_one") else {
        return;
    };
    let schema = PgSchema::new(&base_url).await;
    let db = schema.url.clone();
    // The per-client token limit out of the way: the load is one client.
    let env = [
        ("SESAME_ENCRYPTION_KEY", KEY),
        ("SESAME_KEY_ROTATION_INTERVAL", "0"),
        ("SESAME_RATE_LIMITS__TOKEN_PER_CLIENT_PER_SECOND", "1000000"),
    ];
    let run = |args: &[&str]| {
        let out = std::process::Command::new(BIN)
            .args(["--database", &db])
            .args(args)
            .env_remove("SESAME_CONFIG")
            .envs(env)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    run(&[
        "users",
        "add",
        "--username",
        "pat",
        "--password",
        "pat-password",
    ]);
    let client: serde_json::Value = serde_json::from_slice(&run(&[
        "clients",
        "add",
        "--name",
        "Failover",
        "--redirect-uri",
        CB,
        "--skip-consent",
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
        "--json",
    ]))
    .unwrap();
    let id = client["client_id"].as_str().unwrap().to_owned();
    let secret = client["client_secret"].as_str().unwrap().to_owned();
    let creds = (id.as_str(), secret.as_str());
    // The load's own client (client_credentials).
    let service: serde_json::Value = serde_json::from_slice(&run(&[
        "clients",
        "add",
        "--name",
        "Load",
        "--redirect-uri",
        CB,
        "--grant-type",
        "client_credentials",
        "--json",
    ]))
    .unwrap();
    let owned = (
        service["client_id"].as_str().unwrap().to_owned(),
        service["client_secret"].as_str().unwrap().to_owned(),
    );
    // Started together on an empty database (no keys yet).
    let (pa, pb) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{pa}");
    let mut a = Running::serve_on(&db, &issuer, pa, &env);
    let _b = Running::serve_on(&db, &issuer, pb, &env);
    let (base_a, base_b) = (issuer.clone(), format!("http://127.0.0.1:{pb}"));
    wait_healthy(&base_a).await;
    wait_healthy(&base_b).await;
    let jwks = |base: String| async move {
        reqwest::get(format!("{base}/jwks"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let (ja, jb) = (jwks(base_a.clone()).await, jwks(base_b.clone()).await);
    assert_eq!(ja, jb, "one JWKS");
    let published = JwkSet::from_json(ja.as_bytes()).unwrap();
    // RS256, ES256, EdDSA: one Active and one Next key each.
    assert_eq!(published.keys.len(), 6, "{ja}");
    // What A issues before it dies: codes, and a refresh token.
    let mut codes = Vec::new();
    for _ in 0..3 {
        codes.push(code_from(&base_a, &id, "openid").await);
    }
    let (code, verifier) = code_from(&base_a, &id, "openid offline_access").await;
    let (status, tokens) = token(
        &base_a,
        creds,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    // Load on both; A is killed in the middle of it.
    let stop = Arc::new(AtomicBool::new(false));
    let on_b: Vec<_> = (0..4)
        .map(|_| {
            let served = Arc::new(AtomicU32::new(0));
            load(base_b.clone(), owned.clone(), Arc::clone(&stop), served)
        })
        .collect();
    let served_by_a = Arc::new(AtomicU32::new(0));
    let on_a = load(
        base_a.clone(),
        owned.clone(),
        Arc::clone(&stop),
        Arc::clone(&served_by_a),
    );
    // Killed once it has served some of the load (a busy machine may take a
    // while to answer the first request), at most 30 s later.
    for _ in 0..300 {
        if served_by_a.load(Ordering::SeqCst) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    a.child.kill().unwrap(); // SIGKILL
    a.child.wait().unwrap();
    // The survivor redeems what the dead instance issued, under load.
    let keys = KeySet::from_jwks(&published);
    for (code, verifier) in &codes {
        let (status, tokens) = token(
            &base_b,
            creds,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", CB),
                ("code_verifier", verifier),
            ],
        )
        .await;
        assert_eq!(status, 200, "{tokens}");
        let id_token = tokens["id_token"].as_str().unwrap();
        sesame_core::jws::verify(id_token, &keys, &[JwsAlgorithm::RS256], None).unwrap();
    }
    let (status, renewed) = token(
        &base_b,
        creds,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, 200, "{renewed}");
    assert!(renewed["access_token"].is_string() && renewed["refresh_token"].is_string());
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    let (mut ok, mut errors) = (0, 0);
    for t in on_b {
        let (o, e) = t.await.unwrap();
        ok += o;
        errors += e;
    }
    let (ok_a, _refused_after_the_kill) = on_a.await.unwrap();
    assert!(ok > 0 && ok_a > 0, "load ran on both: b={ok} a={ok_a}");
    assert_eq!(errors, 0, "the survivor answered every request ({ok} ok)");
    schema.drop_now().await;
}
