//! Pairwise subjects in the server: `clients add --subject-type`, and a salt
//! that lives in the database so that restarts (and other instances) agree.

use std::time::Duration;

use serde_json::Value;
use sesame_server::Config;

use crate::support::*;

const REDIRECT: &str = "https://rp.example/cb";

fn add_client(db: &str, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec![
        "--database",
        db,
        "clients",
        "add",
        "--name",
        "Pairwise",
        "--redirect-uri",
        REDIRECT,
        "--skip-consent",
        "--json",
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = sesame(&args);
    let v = serde_json::from_str(&out).unwrap_or(Value::Null);
    (code, v, err)
}

async fn serve(
    db: &str,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = Config {
        issuer: base.clone(),
        database: db.to_owned(),
        ..Config::default()
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        sesame_server::run(config, listener, async move {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    for _ in 0..100 {
        if reqwest::get(format!("{base}/healthz"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (base, tx, task)
}

/// Signs in through the login form and redeems the code: the ID token's claims.
async fn sign_in(base: &str, client_id: &str, secret: &str) -> Value {
    let browser = browser();
    let verifier = sesame_core::CodeVerifier::random().unwrap();
    let challenge = verifier.challenge(sesame_core::PkceMethod::S256);
    let r = browser
        .get(format!("{base}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("nonce", "n"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let page = browser
        .get(location(&r))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let return_to = hidden(&page, "return_to")
        .replace("&amp;", "&")
        .replace("&#x2f;", "/");
    let r = browser
        .post(format!("{base}/login"))
        .form(&[
            ("username", "pat"),
            ("password", "pat-password"),
            ("csrf_token", hidden(&page, "csrf_token").as_str()),
            ("return_to", return_to.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let r = browser
        .get(absolute(base, &location(&r)))
        .send()
        .await
        .unwrap();
    let cb = url::Url::parse(&location(&r)).unwrap();
    let code = cb
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let t: Value = reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.secret()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let payload = sesame_core::UnverifiedJws::parse(t["id_token"].as_str().unwrap())
        .unwrap()
        .insecure_payload()
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

#[tokio::test]
async fn pairwise_clients_from_the_cli_keep_their_subject_across_restarts() {
    let dir = TempDir::new();
    let db = dir.db();
    let (code, _, err) = add_client(
        &db,
        &[
            "--redirect-uri",
            "https://elsewhere.example/cb",
            "--subject-type",
            "pairwise",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("one host"), "{err}");
    let (code, _, err) = add_client(&db, &["--subject-type", "secret"]);
    assert_ne!(code, 0);
    assert!(err.contains("--subject-type"), "{err}");

    let (code, pairwise, err) = add_client(&db, &["--subject-type", "pairwise"]);
    assert_eq!(code, 0, "{err}");
    let (code, public, err) = add_client(&db, &[]);
    assert_eq!(code, 0, "{err}");
    let id = pairwise["client_id"].as_str().unwrap();
    let (_, shown, _) = sesame(&["--database", &db, "clients", "show", id, "--json"]);
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["subject_type"], "pairwise");
    let (code, out, err) = sesame(&[
        "--database",
        &db,
        "users",
        "add",
        "--username",
        "pat",
        "--password",
        "pat-password",
    ]);
    assert_eq!(code, 0, "{err}");
    // "added user pat (sub …)"
    let local_sub = out.trim().trim_end_matches(')').rsplit(' ').next().unwrap();

    let (base, stop, task) = serve(&db).await;
    let d: Value = reqwest::get(format!("{base}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        d["subject_types_supported"],
        serde_json::json!(["public", "pairwise"])
    );
    let secret = |v: &Value| v["client_secret"].as_str().unwrap().to_owned();
    let first = sign_in(&base, id, &secret(&pairwise)).await;
    let public_claims = sign_in(
        &base,
        public["client_id"].as_str().unwrap(),
        &secret(&public),
    )
    .await;
    assert_eq!(public_claims["sub"], local_sub);
    assert_ne!(first["sub"], local_sub);
    assert_eq!(first["sub"].as_str().unwrap().len(), 43);
    stop.send(()).unwrap();
    task.await.unwrap();

    // A restart reads the same salt from the database: the same pairwise sub.
    let (base, stop, task) = serve(&db).await;
    let again = sign_in(&base, id, &secret(&pairwise)).await;
    assert_eq!(again["sub"], first["sub"]);
    stop.send(()).unwrap();
    task.await.unwrap();
}
