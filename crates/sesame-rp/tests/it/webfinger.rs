//! WebFinger issuer discovery (OIDC Discovery §2): a real WebFinger
//! endpoint on 127.0.0.1 pointing at sesame-op, and the faults it may serve.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use sesame_rp::{OidcClient, WebFinger, WebFingerError};

use crate::support::*;

const REL: &str = "http://openid.net/specs/connect/1.0/issuer";

type Queries = Arc<Mutex<Vec<Vec<(String, String)>>>>;

#[derive(Clone)]
struct Finger {
    /// What `/.well-known/webfinger` answers.
    answer: Arc<Mutex<Answer>>,
    /// The queries it received.
    queries: Queries,
}

#[derive(Clone)]
enum Answer {
    Jrd(Value),
    Huge,
    Slow,
}

async fn webfinger(State(f): State<Finger>, Query(q): Query<Vec<(String, String)>>) -> Response {
    f.queries.lock().unwrap().push(q);
    let answer = f.answer.lock().unwrap().clone();
    match answer {
        Answer::Jrd(doc) => Json(doc).into_response(),
        Answer::Huge => "x"
            .repeat(sesame_rp::webfinger::MAX_JRD + 1)
            .into_response(),
        Answer::Slow => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late".into_response()
        }
    }
}

/// A WebFinger host answering `answer`; its `host:port`.
async fn finger(answer: Answer) -> (String, Finger) {
    let f = Finger {
        answer: Arc::new(Mutex::new(answer)),
        queries: Arc::default(),
    };
    let (listener, base) = rp_listener().await;
    let app = Router::new()
        .route("/.well-known/webfinger", get(webfinger))
        .with_state(f.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base.trim_start_matches("http://").to_owned(), f)
}

fn jrd(href: &str) -> Answer {
    Answer::Jrd(json!({
        "subject": "acct:joe@example.com",
        "aliases": ["https://example.com/joe"],
        "properties": {"http://example.com/p": "unknown members are ignored"},
        "links": [
            {"rel": "http://webfinger.net/rel/profile-page", "href": "https://example.com/other"},
            {"rel": REL, "href": href, "titles": {"en": "x"}},
        ]
    }))
}

fn loopback() -> WebFinger {
    WebFinger::new().allow_insecure_loopback()
}

#[tokio::test]
async fn an_acct_identifier_resolves_to_the_provider_and_signs_in() {
    let op = start_op().await;
    let (host, f) = finger(jrd(&op.base)).await;
    let issuer = loopback()
        .resolve(&format!("acct:joe@{host}"))
        .await
        .unwrap();
    assert_eq!(issuer.as_str(), op.base);
    let q = f.queries.lock().unwrap()[0].clone();
    assert!(
        q.contains(&("resource".into(), format!("acct:joe@{host}"))),
        "{q:?}"
    );
    assert!(q.contains(&("rel".into(), REL.into())), "{q:?}");
    // The issuer found is a working provider.
    let (listener, rp) = rp_listener().await;
    op.register("rp", &rp, |_| {}).await;
    let oidc = OidcClient::builder(issuer, "rp")
        .with_client_secret(SECRET)
        .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
        .build()
        .await
        .unwrap();
    rp_app(oidc, listener).await;
    let b = browser();
    let (r, seen) = follow(&b, &format!("{rp}/login"), "joe").await;
    assert!(r.status().is_success(), "{seen:?}");
    let me: Value = b
        .get(format!("{rp}/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["sub"], "joe");
}

#[tokio::test]
async fn a_url_is_the_issuer_when_it_has_discovery_and_is_looked_up_otherwise() {
    let op = start_op().await;
    let (host, f) = finger(jrd(&op.base)).await;
    let direct = loopback().discover_issuer(&op.base).await.unwrap();
    assert_eq!(direct.as_str(), op.base);
    let found = loopback()
        .discover_issuer(&format!("http://{host}/joe"))
        .await
        .unwrap();
    assert_eq!(found.as_str(), op.base);
    let q = f.queries.lock().unwrap()[0].clone();
    assert!(
        q.contains(&("resource".into(), format!("http://{host}/joe"))),
        "{q:?}"
    );
    let via_acct = loopback()
        .discover_issuer(&format!("joe@{host}"))
        .await
        .unwrap();
    assert_eq!(via_acct.as_str(), op.base);
    // No answer at all: the issuer as given, for discovery to report.
    let unreachable = loopback()
        .discover_issuer("http://127.0.0.1:9")
        .await
        .unwrap();
    assert_eq!(unreachable.as_str(), "http://127.0.0.1:9");
}

#[tokio::test]
async fn plain_http_is_refused_without_the_loopback_switch() {
    let op = start_op().await;
    let (host, f) = finger(jrd(&op.base)).await;
    let e = WebFinger::new()
        .resolve(&format!("acct:joe@{host}"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, WebFingerError::Http(_)),
        "asked over https: {e}"
    );
    assert!(f.queries.lock().unwrap().is_empty());
}

#[tokio::test]
async fn unacceptable_issuers_are_refused() {
    for (href, why) in [
        ("http://op.example", "http off loopback"),
        ("https://op.example/?tenant=1", "a query"),
        ("https://op.example/#f", "a fragment"),
        ("javascript:alert(1)", "not a URL issuer"),
    ] {
        let (host, _) = finger(jrd(href)).await;
        let e = loopback()
            .resolve(&format!("acct:joe@{host}"))
            .await
            .unwrap_err();
        assert!(matches!(e, WebFingerError::BadIssuer(..)), "{why}: {e}");
    }
    let (host, _) = finger(Answer::Jrd(json!({"subject": "acct:joe@x", "links": []}))).await;
    let e = loopback()
        .resolve(&format!("acct:joe@{host}"))
        .await
        .unwrap_err();
    assert!(matches!(e, WebFingerError::NoIssuer), "{e}");
    let (host, _) = finger(Answer::Jrd(json!(["not", "jrd"]))).await;
    let e = loopback()
        .resolve(&format!("acct:joe@{host}"))
        .await
        .unwrap_err();
    assert!(matches!(e, WebFingerError::NotJrd(_)), "{e}");
}

#[tokio::test]
async fn the_answer_is_bounded_in_size_and_time() {
    let (host, _) = finger(Answer::Huge).await;
    let e = loopback()
        .resolve(&format!("acct:joe@{host}"))
        .await
        .unwrap_err();
    assert!(matches!(e, WebFingerError::TooLarge(_)), "{e}");
    let (host, _) = finger(Answer::Slow).await;
    let started = std::time::Instant::now();
    let e = loopback()
        .with_timeout(Duration::from_millis(300))
        .resolve(&format!("acct:joe@{host}"))
        .await
        .unwrap_err();
    assert!(matches!(e, WebFingerError::Timeout(_)), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
