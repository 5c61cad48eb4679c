//! `sesame app --request-object …` and `--issuer acct:…` end to end: the
//! real binary against a real `sesame serve` (which verifies request objects).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::app::{add_client, app_on, me, param, provider, refused, sign_in};
use crate::support::*;

fn part(jwt: &str, i: usize) -> Value {
    let p = jwt.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

#[tokio::test]
async fn a_signed_request_object_with_a_generated_key_signs_in() {
    let (_dir, db, _server, op) = provider(&[("SESAME_ALLOW_PRIVATE_OUTBOUND", "true")]).await;
    let port = free_port();
    let app = format!("http://127.0.0.1:{port}");
    let jwks_uri = format!("{app}/jwks.json");
    let (id, secret) = add_client(
        &db,
        &app,
        &["--jwks-uri", &jwks_uri, "--request-object-alg", "ES256"],
    );
    let running = app_on(
        port,
        &op,
        &[
            "--client-id",
            &id,
            "--client-secret",
            &secret,
            "--request-object",
            "signed",
            "--request-object-alg",
            "ES256",
        ],
    );
    assert!(running.line_with("Public JWK Set").contains(&jwks_uri));
    let b = browser();
    let (authorize, _) = sign_in(&b, &app, &op).await;
    let jwt = param(&authorize, "request").expect("request=");
    assert_eq!(param(&authorize, "nonce"), None, "inside the object only");
    assert_eq!(param(&authorize, "state"), None);
    assert_eq!(part(&jwt, 0)["alg"], "ES256");
    let claims = part(&jwt, 1);
    assert_eq!(claims["iss"], id.as_str());
    assert_eq!(claims["aud"], op.as_str());
    assert_eq!(claims["client_id"], id.as_str());
    assert!(claims["nonce"].is_string() && claims["code_challenge"].is_string());
    assert_eq!(me(&b, &app).await["claims"]["preferred_username"], "ann");
}

#[tokio::test]
async fn a_request_object_by_reference_is_served_once() {
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
            "--request-object",
            "uri",
        ],
    );
    let b = browser();
    let r = b.get(format!("{app}/login")).send().await.unwrap();
    let authorize = url::Url::parse(&location(&r)).unwrap();
    assert_eq!(param(&authorize, "request"), None);
    let uri = param(&authorize, "request_uri").expect("request_uri=");
    assert!(uri.starts_with(&format!("{app}/request-object/")), "{uri}");
    let r = reqwest::get(&uri).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/oauth-authz-req+jwt"
    );
    let jwt = r.text().await.unwrap();
    assert_eq!(part(&jwt, 0)["alg"], "RS256", "the default algorithm");
    assert_eq!(part(&jwt, 1)["redirect_uri"], format!("{app}/callback"));
    assert_eq!(reqwest::get(&uri).await.unwrap().status(), 404, "one read");
}

#[tokio::test]
async fn bad_request_object_and_issuer_values_are_one_error_line() {
    for (args, needle) in [
        (
            &["--client-id", "x", "--request-object", "maybe"][..],
            "--request-object",
        ),
        (
            &["--client-id", "x", "--request-object-alg", "RS256"],
            "goes with --request-object",
        ),
        (
            &[
                "--client-id",
                "x",
                "--request-object",
                "signed",
                "--request-object-alg",
                "HS256",
            ],
            "--request-object-alg",
        ),
        (
            &[
                "--client-id",
                "x",
                "--request-object",
                "unsigned",
                "--request-object-alg",
                "RS256",
            ],
            "unsigned",
        ),
    ] {
        let line = refused(args);
        assert!(line.contains(needle), "{args:?}: {line}");
    }
}

#[tokio::test]
async fn an_acct_issuer_without_webfinger_is_one_error_line() {
    // sesame serve has no WebFinger endpoint: the lookup's 404 is the error.
    let (_dir, _db, _server, op) = provider(&[]).await;
    let host = op.trim_start_matches("http://");
    let issuer = format!("acct:ann@{host}");
    for (insecure, needle) in [(true, "404"), (false, "request to https://")] {
        let mut args = vec![
            "app",
            "--issuer",
            issuer.as_str(),
            "--client-id",
            "x",
            "--listen",
            "127.0.0.1:0",
        ];
        if insecure {
            args.push("--allow-insecure-issuer");
        }
        let (code, _, err) = sesame(&args);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("--issuer acct:ann@"), "{err}");
        assert!(err.contains(needle), "{insecure}: {err}");
    }
}

#[tokio::test]
async fn jarm_signs_in_with_a_response_jwt() {
    let (_dir, db, _server, op) = provider(&[]).await;
    let port = free_port();
    let app = format!("http://127.0.0.1:{port}");
    let (id, secret) = add_client(&db, &app, &["--authorization-signed-response-alg", "ES256"]);
    let _running = app_on(
        port,
        &op,
        &["--client-id", &id, "--client-secret", &secret, "--jarm"],
    );
    let b = browser();
    let (authorize, _) = sign_in(&b, &app, &op).await;
    assert_eq!(param(&authorize, "response_mode").as_deref(), Some("jwt"));
    assert_eq!(me(&b, &app).await["claims"]["preferred_username"], "ann");
}

#[tokio::test]
async fn par_and_jarm_sign_in_at_a_client_that_requires_par() {
    let (_dir, db, _server, op) = provider(&[]).await;
    let port = free_port();
    let app = format!("http://127.0.0.1:{port}");
    let (id, secret) = add_client(&db, &app, &["--require-par"]);
    let _running = app_on(
        port,
        &op,
        &[
            "--client-id",
            &id,
            "--client-secret",
            &secret,
            "--par",
            "--jarm",
        ],
    );
    let b = browser();
    let (authorize, _) = sign_in(&b, &app, &op).await;
    assert!(param(&authorize, "request_uri").is_some(), "{authorize}");
    assert_eq!(param(&authorize, "state"), None, "pushed, not in the URL");
    assert_eq!(me(&b, &app).await["claims"]["preferred_username"], "ann");
}
