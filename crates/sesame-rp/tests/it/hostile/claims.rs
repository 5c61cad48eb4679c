//! Aggregated and distributed claims (OIDC Core §5.6.2, issue 14): the
//! provider's userinfo answer (or ID token) points to claims signed by a
//! claims provider, a second real server here with its own keys and endpoints.
//! Only configured sources are believed, their signatures checked, their
//! endpoints fetched within limits; nothing unverified reaches the main set.

use std::time::Duration;

use axum::http::HeaderMap;
use sesame_rp::ClaimsSource;

use super::*;

/// A claims provider: `/jwks` (key 0), `/claims` and friends.
struct Source {
    base: String,
    keys: Vec<SigningKey>,
    /// The Authorization headers its endpoints received.
    seen_auth: Mutex<Vec<String>>,
    hits: AtomicUsize,
    jwks_hits: AtomicUsize,
}

impl Source {
    /// A claims JWT signed with key `i`, with these claims (and `iss` unless given).
    fn jwt(&self, i: usize, claims: Value) -> String {
        let mut c = json!({"iss": self.base, "sub": "victim-at-source"});
        c.as_object_mut()
            .unwrap()
            .extend(claims.as_object().unwrap().clone());
        sesame_core::jws::sign(&self.keys[i], Some("JWT"), &c).unwrap()
    }
}

async fn source_jwks(State(s): State<Arc<Source>>) -> Json<Value> {
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    Json(json!({"keys": [s.keys[0].public_jwk().unwrap()]}))
}

/// A distributed endpoint: the source's signed claims.
async fn source_claims(State(s): State<Arc<Source>>, h: HeaderMap) -> String {
    s.hits.fetch_add(1, Ordering::SeqCst);
    let auth = h
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    s.seen_auth.lock().unwrap().push(auth);
    s.jwt(0, json!({"credit_score": 650, "payment_info": "Some Card"}))
}

async fn source_big(State(s): State<Arc<Source>>) -> String {
    s.hits.fetch_add(1, Ordering::SeqCst);
    "x".repeat(sesame_rp::MAX_DISTRIBUTED_RESPONSE + 1)
}

async fn source_slow(State(s): State<Arc<Source>>) -> String {
    s.hits.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(sesame_rp::CLAIM_SOURCE_TIMEOUT + Duration::from_secs(2)).await;
    s.jwt(0, json!({"credit_score": 1}))
}

async fn source() -> Arc<Source> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let s = Arc::new(Source {
        base,
        // 0 published; 1 never published (a forger's)
        keys: vec![
            SigningKey::generate(JwsAlgorithm::RS256).unwrap(),
            SigningKey::generate(JwsAlgorithm::RS256).unwrap(),
        ],
        seen_auth: Mutex::new(Vec::new()),
        hits: AtomicUsize::new(0),
        jwks_hits: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/jwks", get(source_jwks))
        .route("/claims", get(source_claims))
        .route("/big", get(source_big))
        .route("/slow", get(source_slow))
        .with_state(Arc::clone(&s));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    s
}

fn configured(s: &Source) -> ClaimsSource {
    ClaimsSource::with_jwks_uri(s.base.clone(), format!("{}/jwks", s.base))
}

/// Signs in at a provider whose userinfo carries `extra`, with `source`
/// configured (or not); `/me` of the session.
async fn sign_in_with(s: &Source, trust: bool, extra: Value) -> (Rig, Value) {
    let source = configured(s);
    let rig = rig(
        |f| *f.userinfo_extra.lock().unwrap() = extra.as_object().unwrap().clone(),
        move |b| {
            if trust {
                b.with_claims_source(source)
            } else {
                b
            }
        },
    )
    .await;
    assert_eq!(
        rig.login().await.status(),
        200,
        "external claims never fail a login"
    );
    let me = rig
        .browser
        .get(format!("{}/me", rig.rp))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (rig, me)
}

fn aggregated(jwt: String) -> Value {
    json!({
        "_claim_names": {"address": "src1", "phone_number": "src1"},
        "_claim_sources": {"src1": {"JWT": jwt}},
    })
}

/// The reasons of the refused sources.
fn refused(me: &Value) -> Vec<(String, String)> {
    me["refused_external"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["source"].as_str().unwrap().to_owned(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn no_leaks(me: &Value) {
    let main = me["claims"].as_object().unwrap();
    for name in ["_claim_names", "_claim_sources", "address", "credit_score"] {
        assert!(!main.contains_key(name), "{name} in the main set: {main:?}");
    }
}

#[tokio::test]
async fn aggregated_claims_of_a_configured_source_are_verified_and_kept_apart() {
    let s = source().await;
    let jwt = s.jwt(
        0,
        json!({"address": {"country": "SE"}, "phone_number": "+46 1", "shoe": 42}),
    );
    let (_rig, me) = sign_in_with(&s, true, aggregated(jwt)).await;
    let ext = me["external"].as_array().unwrap();
    assert_eq!(ext.len(), 1, "{me}");
    assert_eq!(ext[0]["source"], "src1");
    assert_eq!(ext[0]["issuer"], s.base.as_str());
    assert_eq!(ext[0]["kind"], "aggregated");
    assert_eq!(ext[0]["claims"]["address"]["country"], "SE");
    assert_eq!(ext[0]["claims"]["phone_number"], "+46 1");
    assert!(
        ext[0]["claims"].get("shoe").is_none(),
        "only the names pointed to"
    );
    assert!(ext[0]["claims"].get("iss").is_none());
    assert_eq!(
        me["claims"]["email"], "victim@example.com",
        "the provider's own"
    );
    no_leaks(&me);
    assert!(refused(&me).is_empty());
}

#[tokio::test]
async fn aggregated_claims_in_the_id_token_are_verified_too() {
    let s = source().await;
    let jwt = s.jwt(0, json!({"address": "a street"}));
    let source = configured(&s);
    let rig = rig(
        edit(move |c, _| {
            c["_claim_names"] = json!({"address": "idt"});
            c["_claim_sources"] = json!({"idt": {"JWT": jwt}});
        }),
        move |b| b.with_claims_source(source),
    )
    .await;
    assert_eq!(rig.login().await.status(), 200);
    let me: Value = rig
        .browser
        .get(format!("{}/me", rig.rp))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["external"][0]["claims"]["address"], "a street", "{me}");
    no_leaks(&me);
}

#[tokio::test]
async fn a_bad_signature_an_unknown_source_alg_none_expiry_and_audience_are_refused() {
    let s = source().await;
    let other = source().await; // a source nobody configured
    let now = SystemClock.now();
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none"}"#),
        b64(json!({"iss": s.base, "c_none": "x"}).to_string().as_bytes())
    );
    let jwts = [
        ("forged", s.jwt(1, json!({"c_forged": "FORGED-VALUE"}))),
        ("unknown", other.jwt(0, json!({"c_unknown": "elsewhere"}))),
        (
            "expired",
            s.jwt(0, json!({"c_expired": "old", "exp": now - 3600})),
        ),
        (
            "aud",
            s.jwt(0, json!({"c_aud": "theirs", "aud": "another-rp"})),
        ),
        ("none", none),
        ("junk", "not.a.jwt".to_owned()),
        (
            "ok",
            s.jwt(0, json!({"c_ok": "ours", "aud": ["rp"], "exp": now + 60})),
        ),
    ];
    let mut names = serde_json::Map::new();
    let mut sources = serde_json::Map::new();
    for (label, jwt) in jwts {
        names.insert(format!("c_{label}"), json!(label));
        sources.insert(label.to_owned(), json!({"JWT": jwt}));
    }
    // A name whose source is not in _claim_sources, and a source with neither JWT nor endpoint.
    names.insert("c_missing".into(), json!("missing"));
    names.insert("c_empty".into(), json!("empty"));
    sources.insert("empty".into(), json!({}));
    let extra = json!({"_claim_names": names, "_claim_sources": sources});
    let (_rig, me) = sign_in_with(&s, true, extra).await;
    let mut got = refused(&me);
    got.sort();
    let want = [
        ("aud", "wrong_audience"),
        ("empty", "malformed"),
        ("expired", "expired"),
        ("forged", "bad_signature"),
        ("junk", "malformed"),
        ("missing", "malformed"),
        ("none", "bad_signature"),
        ("unknown", "unknown_source"),
    ]
    .map(|(a, b)| (a.to_owned(), b.to_owned()));
    assert_eq!(got, want, "{me}");
    let ext = me["external"].as_array().unwrap();
    assert_eq!(ext.len(), 1, "{me}");
    assert_eq!(ext[0]["source"], "ok");
    assert_eq!(ext[0]["claims"]["c_ok"], "ours");
    no_leaks(&me);
    assert!(!me.to_string().contains("FORGED-VALUE"), "{me}");
    assert_eq!(
        other.jwks_hits.load(Ordering::SeqCst),
        0,
        "an unknown source's keys are never fetched"
    );
}

#[tokio::test]
async fn without_configured_sources_every_external_claim_is_refused() {
    let s = source().await;
    let jwt = s.jwt(0, json!({"address": "a street"}));
    let (_rig, me) = sign_in_with(&s, false, aggregated(jwt)).await;
    assert!(me["external"].as_array().unwrap().is_empty());
    assert_eq!(
        refused(&me),
        [("src1".to_owned(), "unknown_source".to_owned())]
    );
    no_leaks(&me);
}

#[tokio::test]
async fn distributed_claims_are_fetched_with_the_sources_own_token() {
    let s = source().await;
    let extra = json!({
        "_claim_names": {"credit_score": "bank", "payment_info": "bank"},
        "_claim_sources": {"bank": {"endpoint": format!("{}/claims", s.base), "access_token": "bank-token"}},
    });
    let (_rig, me) = sign_in_with(&s, true, extra).await;
    let ext = me["external"].as_array().unwrap();
    assert_eq!(ext.len(), 1, "{me}");
    assert_eq!(ext[0]["kind"], "distributed");
    assert_eq!(ext[0]["claims"]["credit_score"], 650);
    assert_eq!(ext[0]["claims"]["payment_info"], "Some Card");
    assert_eq!(
        *s.seen_auth.lock().unwrap(),
        ["Bearer bank-token"],
        "never the provider's token"
    );
    no_leaks(&me);
    assert!(
        !me.to_string().contains("bank-token"),
        "the source's token is not kept"
    );
}

#[tokio::test]
async fn endpoints_of_no_configured_source_are_never_fetched() {
    let s = source().await;
    let elsewhere = source().await;
    let extra = json!({
        "_claim_names": {"credit_score": "bank"},
        "_claim_sources": {"bank": {"endpoint": format!("{}/claims", elsewhere.base)}},
    });
    let (_rig, me) = sign_in_with(&s, true, extra).await;
    assert_eq!(
        refused(&me),
        [("bank".to_owned(), "endpoint_not_allowed".to_owned())]
    );
    assert_eq!(elsewhere.hits.load(Ordering::SeqCst), 0, "no request to it");
}

#[tokio::test]
async fn distributed_fetches_are_bounded_in_size_count_and_time() {
    let s = source().await;
    let mut names = serde_json::Map::new();
    let mut sources = serde_json::Map::new();
    names.insert("big".into(), json!("big"));
    sources.insert("big".into(), json!({"endpoint": format!("{}/big", s.base)}));
    // Six more endpoints: the limit fetches three of them (four in all).
    for i in 0..6 {
        names.insert(format!("c{i}"), json!(format!("n{i}")));
        sources.insert(
            format!("n{i}"),
            json!({"endpoint": format!("{}/claims", s.base)}),
        );
    }
    let extra = json!({"_claim_names": names, "_claim_sources": sources});
    let (_rig, me) = sign_in_with(&s, true, extra).await;
    let got = refused(&me);
    assert!(
        got.contains(&("big".to_owned(), "fetch_failed".to_owned())),
        "{got:?}"
    );
    let too_many = got.iter().filter(|(_, r)| r == "too_many").count();
    assert_eq!(too_many, 3, "{got:?}");
    assert_eq!(
        s.hits.load(Ordering::SeqCst),
        sesame_rp::MAX_DISTRIBUTED_FETCHES
    );
    assert_eq!(me["external"].as_array().unwrap().len(), 3);

    // A source that does not answer in time.
    let slow = source().await;
    let extra = json!({
        "_claim_names": {"credit_score": "slow"},
        "_claim_sources": {"slow": {"endpoint": format!("{}/slow", slow.base)}},
    });
    let (_rig, me) = sign_in_with(&slow, true, extra).await;
    // Without the timeout the answer would come (late) and verify.
    assert_eq!(refused(&me), [("slow".to_owned(), "timeout".to_owned())]);
    assert!(me["external"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn more_sources_than_the_limit_are_refused() {
    let s = source().await;
    let mut names = serde_json::Map::new();
    let mut sources = serde_json::Map::new();
    for i in 0..sesame_rp::MAX_CLAIM_SOURCES + 2 {
        names.insert(format!("c{i:02}"), json!(format!("s{i:02}")));
        sources.insert(
            format!("s{i:02}"),
            json!({"JWT": s.jwt(0, json!({format!("c{i:02}"): i}))}),
        );
    }
    let (_rig, me) = sign_in_with(
        &s,
        true,
        json!({"_claim_names": names, "_claim_sources": sources}),
    )
    .await;
    assert_eq!(
        me["external"].as_array().unwrap().len(),
        sesame_rp::MAX_CLAIM_SOURCES
    );
    assert_eq!(refused(&me).len(), 2);
    assert!(refused(&me).iter().all(|(_, r)| r == "too_many"));
}
