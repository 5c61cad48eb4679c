//! Pairwise subjects in the server: `clients add --subject-type`, and a salt
//! that lives in the database so that restarts (and other instances) agree.

use serde_json::Value;

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

/// Signs in through the login form and redeems the code: the ID token's claims.
async fn sign_in(base: &str, client_id: &str, secret: &str) -> Value {
    let t = code_flow(
        base,
        (client_id, secret),
        REDIRECT,
        "openid",
        ("pat", "pat-password"),
    )
    .await;
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

    let server = Server::spawn(&db, |_| {}).await;
    let base = server.base.clone();
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
    server.stop().await;

    // A restart reads the same salt from the database: the same pairwise sub.
    let server = Server::spawn(&db, |_| {}).await;
    let again = sign_in(&server.base, id, &secret(&pairwise)).await;
    assert_eq!(again["sub"], first["sub"]);
    server.stop().await;
}
