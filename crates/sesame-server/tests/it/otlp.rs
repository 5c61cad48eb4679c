//! OTLP traces from a real `sesame serve`: a receiver on 127.0.0.1:0 takes
//! the exporter's `POST /v1/traces` (protobuf, decoded with
//! opentelemetry-proto); after a sign-in, userinfo and a logout it holds
//! spans named for each protocol step, with the client id, and no secret.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use prost::Message as _;

use crate::support::*;

type Received = Arc<Mutex<Vec<ExportTraceServiceRequest>>>;

/// An OTLP/HTTP receiver: (its base URL, what it received).
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let store = Arc::clone(&received);
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |headers: HeaderMap, body: Bytes| {
            let store = Arc::clone(&store);
            async move {
                let protobuf = headers
                    .get(header::CONTENT_TYPE)
                    .is_some_and(|v| v == "application/x-protobuf");
                let Ok(request) = ExportTraceServiceRequest::decode(body) else {
                    return (StatusCode::BAD_REQUEST, Vec::new());
                };
                if !protobuf {
                    return (StatusCode::UNSUPPORTED_MEDIA_TYPE, Vec::new());
                }
                store.lock().unwrap().push(request);
                (
                    StatusCode::OK,
                    ExportTraceServiceResponse::default().encode_to_vec(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, received)
}

fn text(kv: &KeyValue) -> String {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

#[tokio::test]
async fn serve_exports_protocol_spans_without_secrets() {
    let (collector, received) = receiver().await;
    let dir = TempDir::new();
    let db = dir.db();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(BIN)
            .args(["--database", &db])
            .args(args)
            .env_remove("SESAME_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let password = "otlp-password-5f3a";
    run(&["users", "add", "--username", "olga", "--password", password]);
    let client: serde_json::Value = serde_json::from_slice(&run(&[
        "clients",
        "add",
        "--name",
        "Traced",
        "--redirect-uri",
        "https://rp.example/cb",
        "--skip-consent",
        "--json",
    ]))
    .unwrap();
    let id = client["client_id"].as_str().unwrap();
    let secret = client["client_secret"].as_str().unwrap();
    let (mut server, base) = Running::serve(&db, &[("SESAME_OTLP_ENDPOINT", &collector)]).await;

    // A sign-in: authorize, login, token; then userinfo and a logout.
    let b = browser();
    let verifier = sesame_core::CodeVerifier::random().unwrap();
    let challenge = verifier.challenge(sesame_core::PkceMethod::S256);
    let r = b
        .get(format!("{base}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", id),
            ("redirect_uri", "https://rp.example/cb"),
            ("scope", "openid"),
            ("nonce", "n"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let login = absolute(&base, &location(&r));
    let r = submit_login(&b, &login, &base, "olga", password).await;
    let r = b.get(absolute(&base, &location(&r))).send().await.unwrap();
    let cb = url::Url::parse(&location(&r)).unwrap();
    let code = cb
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let tokens: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://rp.example/cb"),
            ("code_verifier", verifier.secret()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let r = reqwest::Client::new()
        .get(format!("{base}/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = b
        .get(format!("{base}/end_session"))
        .query(&[("client_id", id)])
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );

    // SIGTERM: the exporter sends what it still holds before the exit.
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    // Waited for off the runtime: the receiver must keep answering meanwhile.
    let status = tokio::task::spawn_blocking(move || server.child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());

    let requests = received.lock().unwrap().clone();
    assert!(!requests.is_empty(), "no export reached the receiver");
    let spans: Vec<_> = requests
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .collect();
    let attr = |span: &str, key: &str| -> Vec<String> {
        spans
            .iter()
            .filter(|s| s.name == span)
            .flat_map(|s| &s.attributes)
            .filter(|kv| kv.key == key)
            .map(text)
            .collect()
    };
    for step in [
        "sesame_op.authorize",
        "sesame.login",
        "sesame_op.token",
        "sesame_op.userinfo",
        "sesame_op.end_session",
    ] {
        assert!(
            spans.iter().any(|s| s.name == step),
            "no {step} span: {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
    }
    assert!(attr("sesame_op.token", "grant_type").contains(&"authorization_code".to_owned()));
    for step in [
        "sesame_op.token",
        "sesame_op.authorize",
        "sesame.login",
        "sesame_op.end_session",
    ] {
        assert!(
            attr(step, "client_id").contains(&id.to_owned()),
            "{step} without client_id"
        );
    }
    assert!(attr("sesame.login", "outcome").contains(&"signed_in".to_owned()));
    // The service is named.
    let resource = format!("{:?}", requests[0].resource_spans[0].resource);
    assert!(resource.contains("sesame"), "{resource}");
    // Nothing secret anywhere in what was exported (names, attributes, events).
    let everything = format!("{requests:?}");
    for (what, value) in [
        ("client secret", secret),
        ("code", code.as_str()),
        ("password", password),
        ("access token", access.as_str()),
        ("id token", id_token.as_str()),
        ("code verifier", verifier.secret()),
    ] {
        assert!(!everything.contains(value), "the {what} was exported");
    }
}
