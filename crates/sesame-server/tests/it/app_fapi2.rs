//! `sesame app --profile fapi2` end to end: the real binary against a real
//! `sesame serve` holding its client to the FAPI 2.0 profile
//! (`clients add --profile fapi2`).

use sesame_core::{JwkSet, JwsAlgorithm, SigningKey};

use crate::app::{add_client, app_on, me, param, provider, refused, sign_in};
use crate::support::*;

#[tokio::test]
async fn profile_fapi2_signs_in_at_a_fapi2_client() {
    let (dir, db, _server, op) = provider(&[]).await;
    let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    let pem = dir.0.join("app-key.pem");
    std::fs::write(&pem, key.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    let jwks = dir.0.join("app-jwks.json");
    let set = JwkSet {
        keys: vec![key.public_jwk().unwrap()],
    };
    std::fs::write(&jwks, serde_json::to_string(&set).unwrap()).unwrap();
    let port = free_port();
    let app = format!("http://127.0.0.1:{port}");
    let (id, _) = add_client(
        &db,
        &app,
        &[
            "--profile",
            "fapi2",
            "--auth-method",
            "private_key_jwt",
            "--jwks",
            jwks.to_str().unwrap(),
            "--id-token-alg",
            "ES256",
        ],
    );
    let _running = app_on(
        port,
        &op,
        &[
            "--client-id",
            &id,
            "--private-key",
            pem.to_str().unwrap(),
            "--profile",
            "fapi2",
        ],
    );
    let b = browser();
    let (authorize, _) = sign_in(&b, &app, &op).await;
    // Pushed: only client_id and request_uri in the browser's URL.
    let names: Vec<String> = authorize
        .query_pairs()
        .map(|(k, _)| k.into_owned())
        .collect();
    assert_eq!(names, ["client_id", "request_uri"], "{authorize}");
    assert!(param(&authorize, "request_uri").is_some());
    let me = me(&b, &app).await;
    assert_eq!(me["claims"]["preferred_username"], "ann", "{me}");
    assert_eq!(me["dpop"], true, "DPoP-bound: {me}");
}

#[test]
fn profile_fapi2_needs_a_private_key_and_no_secret() {
    let no_key = refused(&["--client-id", "x", "--profile", "fapi2"]);
    assert!(
        no_key.contains("--profile fapi2") && no_key.contains("--private-key FILE"),
        "{no_key}"
    );
    let dir = TempDir::new();
    let pem = dir.0.join("k.pem");
    let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    std::fs::write(&pem, key.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    let secret = refused(&[
        "--client-id",
        "x",
        "--client-secret",
        "s",
        "--private-key",
        pem.to_str().unwrap(),
        "--profile",
        "fapi2",
    ]);
    assert!(secret.contains("drop --client-secret"), "{secret}");
    let (code, _, err) = sesame(&[
        "app",
        "--issuer",
        "http://127.0.0.1:9",
        "--client-id",
        "x",
        "--profile",
        "fapi1",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown profile"), "{err}");
}
