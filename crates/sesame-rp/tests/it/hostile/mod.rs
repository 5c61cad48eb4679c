//! A provider under test control that injects one fault at a time. The relying
//! party must refuse each — no session, and no further call to the provider
//! once the fault is seen — and accept the legitimate variations.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lc_rs::hmac;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sesame_core::{Clock, Issuer, JwsAlgorithm, SigningKey, SystemClock, token_hash};
use sesame_rp::{OidcClient, ResponseType};

use crate::support::*;

mod claims;
mod dpop;
mod failure;
mod keys;
mod logout;
mod refresh;
mod userinfo;

type Edit = Arc<dyn Fn(&mut Value, &mut Value) + Send + Sync>;

#[derive(Clone)]
enum Sign {
    /// With key i of the pool (published or not).
    Key(usize),
    /// An empty signature.
    Nothing,
    /// HMAC-SHA256 with these bytes.
    Hmac(Vec<u8>),
}

struct Fake {
    base: String,
    pool: Vec<SigningKey>,
    published: Mutex<Vec<usize>>,
    sign: Mutex<Sign>,
    edit: Mutex<Edit>,
    /// Edits the front-channel ID token (implicit/hybrid).
    front_edit: Mutex<Edit>,
    userinfo_sub: Mutex<Option<String>>,
    /// More members of the userinfo answer (claims.rs: `_claim_names` …).
    userinfo_extra: Mutex<serde_json::Map<String, Value>>,
    /// Answer UserInfo as a JWT (`application/jwt`) signed and edited so.
    userinfo_jwt: Mutex<Option<(Sign, Edit)>>,
    discovery_issuer: Mutex<Option<String>>,
    nonce: Mutex<String>,
    /// Advertise RFC 9207 `authorization_response_iss_parameter_supported`.
    advertise_iss: AtomicBool,
    /// Send `iss` in the authorization response.
    send_iss: AtomicBool,
    /// What the end-session endpoint sends back as `state`.
    logout_state: Mutex<LogoutState>,
    token_calls: AtomicUsize,
    userinfo_calls: AtomicUsize,
    jwks_calls: AtomicUsize,
    /// The JWKS endpoint answers 503.
    jwks_down: AtomicBool,
    /// DPoP: what the fake advertises and demands (dpop.rs).
    dpop: Mutex<dpop::FakeDpop>,
}

/// The `state` the end-session endpoint returns to the post-logout redirect URI.
#[derive(Clone, Copy)]
enum LogoutState {
    /// The RP's own.
    Echo,
    /// Another one.
    Other,
    /// None.
    Omit,
}

type S = Arc<Fake>;

impl Fake {
    /// Publishes key `i` and signs with it from now on.
    fn rotate_to(&self, i: usize) {
        self.published.lock().unwrap().push(i);
        *self.sign.lock().unwrap() = Sign::Key(i);
    }

    fn jwks_hits(&self) -> usize {
        self.jwks_calls.load(Ordering::SeqCst)
    }
}

async fn discovery(State(f): State<S>) -> Json<Value> {
    let iss = f
        .discovery_issuer
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| f.base.clone());
    let advertise = f.advertise_iss.load(Ordering::SeqCst);
    let mut doc = json!({
        "authorization_response_iss_parameter_supported": advertise,
        "issuer": iss,
        "authorization_endpoint": format!("{}/authorize", f.base),
        "token_endpoint": format!("{}/token", f.base),
        "userinfo_endpoint": format!("{}/userinfo", f.base),
        "jwks_uri": format!("{}/jwks", f.base),
        "end_session_endpoint": format!("{}/end_session", f.base),
        "response_types_supported": ["code", "code id_token", "code token", "id_token", "id_token token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"]
    });
    if f.dpop.lock().unwrap().advertise {
        doc["dpop_signing_alg_values_supported"] = json!(["ES256"]);
    }
    Json(doc)
}

async fn jwks(State(f): State<S>) -> Response {
    f.jwks_calls.fetch_add(1, Ordering::SeqCst);
    if f.jwks_down.load(Ordering::SeqCst) {
        return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys: Vec<Value> = f
        .published
        .lock()
        .unwrap()
        .iter()
        .map(|i| json!(f.pool[*i].public_jwk().unwrap()))
        .collect();
    Json(json!({"keys": keys})).into_response()
}

#[derive(serde::Deserialize)]
struct AuthQ {
    redirect_uri: String,
    state: String,
    nonce: String,
    response_type: String,
}

/// Implicit and hybrid: the response is an auto-submitting form (form_post)
/// with the front-channel ID token (and the code, and an access token).
fn form_post(f: &Fake, q: &AuthQ) -> Response {
    let mut fields = vec![("state", q.state.clone()), ("iss", f.base.clone())];
    if q.response_type.contains("id_token") {
        fields.push(("id_token", id_token(f, true)));
    }
    if q.response_type.contains("code") {
        fields.push(("code", "the-code".into()));
    }
    if q.response_type.split(' ').any(|t| t == "token") {
        // `code token`: a front-channel access token unlike the token endpoint's.
        let at = if q.response_type.contains("id_token") {
            "at-1"
        } else {
            "front-at"
        };
        fields.push(("access_token", at.into()));
        fields.push(("token_type", "Bearer".into()));
    }
    let inputs: String = fields
        .iter()
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{k}\" value=\"{v}\">"))
        .collect();
    axum::response::Html(format!(
        "<form method=\"post\" action=\"{}\">{inputs}</form>",
        q.redirect_uri
    ))
    .into_response()
}

async fn authorize(State(f): State<S>, Query(q): Query<AuthQ>) -> Response {
    *f.nonce.lock().unwrap() = q.nonce.clone();
    if q.response_type != "code" {
        return form_post(&f, &q);
    }
    let iss = if f.send_iss.load(Ordering::SeqCst) {
        format!(
            "&iss={}",
            url::form_urlencoded::byte_serialize(f.base.as_bytes()).collect::<String>()
        )
    } else {
        String::new()
    };
    Redirect::to(&format!(
        "{}?code=the-code&state={}{iss}",
        q.redirect_uri, q.state,
    ))
    .into_response()
}

fn b64(v: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(v)
}

/// An ID token as the provider currently signs them; `front` applies the
/// front-channel edit (implicit/hybrid) instead of the token endpoint's.
fn id_token(f: &Fake, front: bool) -> String {
    let now = SystemClock.now();
    let sign = f.sign.lock().unwrap().clone();
    let alg = match &sign {
        Sign::Key(i) => f.pool[*i].alg().as_str().to_owned(),
        Sign::Nothing => "none".into(),
        Sign::Hmac(_) => "HS256".into(),
    };
    let kid = match &sign {
        Sign::Key(i) => f.pool[*i].kid().to_owned(),
        _ => f.pool[0].kid().to_owned(),
    };
    let hash_alg = JwsAlgorithm::parse(&alg).unwrap_or(JwsAlgorithm::RS256);
    let mut claims = json!({
        "iss": f.base, "sub": "victim", "aud": "rp", "iat": now, "exp": now + 300,
        "nonce": f.nonce.lock().unwrap().clone(), "at_hash": token_hash(hash_alg, "at-1"),
        "c_hash": token_hash(hash_alg, "the-code"),
    });
    let mut header = json!({"alg": alg, "kid": kid, "typ": "JWT"});
    if front {
        (f.front_edit.lock().unwrap())(&mut claims, &mut header);
    } else {
        (f.edit.lock().unwrap())(&mut claims, &mut header);
    }
    compact(f, sign, &header, &claims)
}

/// A compact JWS of `claims` under `header`, signed as `sign` says.
fn compact(f: &Fake, sign: Sign, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = match sign {
        Sign::Key(i) => f.pool[i].sign(input.as_bytes()).unwrap(),
        Sign::Nothing => Vec::new(),
        Sign::Hmac(secret) => hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &secret),
            input.as_bytes(),
        )
        .as_ref()
        .to_vec(),
    };
    format!("{input}.{}", b64(&sig))
}

async fn token(State(f): State<S>, headers: axum::http::HeaderMap) -> Response {
    f.token_calls.fetch_add(1, Ordering::SeqCst);
    if let Some(refusal) = dpop::demand(&f, "/token", &headers) {
        return refusal;
    }
    let id_token = id_token(&f, false);
    let token_type = f.dpop.lock().unwrap().token_type.clone();
    Json(json!({"access_token": "at-1", "token_type": token_type, "expires_in": 300, "id_token": id_token,
        "refresh_token": "rt-1"}))
    .into_response()
}

async fn userinfo(State(f): State<S>, headers: axum::http::HeaderMap) -> Response {
    f.userinfo_calls.fetch_add(1, Ordering::SeqCst);
    if let Some(refusal) = dpop::demand(&f, "/userinfo", &headers) {
        return refusal;
    }
    let sub = f
        .userinfo_sub
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| "victim".into());
    let mut claims = json!({"sub": sub, "email": "victim@example.com"});
    claims
        .as_object_mut()
        .unwrap()
        .extend(f.userinfo_extra.lock().unwrap().clone());
    match f.userinfo_jwt.lock().unwrap().clone() {
        Some((sign, edit)) => userinfo::signed(&f, sign, &edit, claims),
        None => Json(claims).into_response(),
    }
}

#[derive(serde::Deserialize)]
struct EndSessionQ {
    post_logout_redirect_uri: String,
    state: Option<String>,
}

/// Ends "the provider's session" and sends the browser back with the state
/// the fault asks for.
async fn end_session(State(f): State<S>, Query(q): Query<EndSessionQ>) -> Response {
    let mode = *f.logout_state.lock().unwrap();
    let state = match (mode, q.state) {
        (LogoutState::Echo, Some(s)) => Some(s),
        (LogoutState::Other, _) => Some("a-state-the-rp-never-sent".to_owned()),
        _ => None,
    };
    let mut to = url::Url::parse(&q.post_logout_redirect_uri).unwrap();
    if let Some(s) = state {
        to.query_pairs_mut().append_pair("state", &s);
    }
    Redirect::to(to.as_str()).into_response()
}

struct Rig {
    fake: Arc<Fake>,
    rp: String,
    browser: reqwest::Client,
    clock: sesame_core::TestClock,
}

async fn fake_op() -> Arc<Fake> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let pool = vec![
        SigningKey::generate(JwsAlgorithm::RS256).unwrap(),
        SigningKey::generate(JwsAlgorithm::ES256).unwrap(),
        SigningKey::generate(JwsAlgorithm::RS256).unwrap(), // never published: an attacker's key
        SigningKey::generate(JwsAlgorithm::RS256).unwrap(), // published later: rotation
        SigningKey::generate(JwsAlgorithm::RS256).unwrap(), // published later: a second rotation
    ];
    let fake = Arc::new(Fake {
        base,
        pool,
        published: Mutex::new(vec![0, 1]),
        sign: Mutex::new(Sign::Key(0)),
        edit: Mutex::new(Arc::new(|_, _| {})),
        front_edit: Mutex::new(Arc::new(|_, _| {})),
        userinfo_sub: Mutex::new(None),
        userinfo_extra: Mutex::new(serde_json::Map::new()),
        userinfo_jwt: Mutex::new(None),
        discovery_issuer: Mutex::new(None),
        nonce: Mutex::new(String::new()),
        advertise_iss: AtomicBool::new(false),
        send_iss: AtomicBool::new(true),
        logout_state: Mutex::new(LogoutState::Echo),
        token_calls: AtomicUsize::new(0),
        userinfo_calls: AtomicUsize::new(0),
        jwks_calls: AtomicUsize::new(0),
        jwks_down: AtomicBool::new(false),
        dpop: Mutex::new(dpop::FakeDpop::default()),
    });
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo))
        .route("/end_session", get(end_session))
        .with_state(Arc::clone(&fake));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    fake
}

async fn rig(
    configure: impl FnOnce(&Fake),
    client: impl FnOnce(sesame_rp::OidcClientBuilder) -> sesame_rp::OidcClientBuilder,
) -> Rig {
    let fake = fake_op().await;
    configure(&fake);
    let (listener, rp) = rp_listener().await;
    let clock = sesame_core::TestClock::at(SystemClock.now());
    let builder = OidcClient::builder(Issuer::new(fake.base.clone()).unwrap(), "rp")
        .with_clock(clock.clone())
        .with_client_secret(SECRET)
        .with_redirect_uri(format!("{rp}/callback").parse().unwrap())
        .with_post_logout_redirect_uri(format!("{rp}/logged-out"))
        .with_algorithms([JwsAlgorithm::RS256, JwsAlgorithm::ES256]);
    let oidc = client(builder).build().await.unwrap();
    rp_app(oidc, listener).await;
    Rig {
        fake,
        rp,
        browser: browser(),
        clock,
    }
}

impl Rig {
    async fn login(&self) -> reqwest::Response {
        let (r, _) = follow(
            &self.browser,
            &format!("{}/login?next=/account", self.rp),
            "x",
        )
        .await;
        r
    }

    /// Logs in through form_post responses; returns the final status.
    async fn login_forms(&self) -> u16 {
        let (status, _, _) = follow_forms(
            &self.browser,
            &format!("{}/login?next=/account", self.rp),
            "x",
        )
        .await;
        status
    }

    async fn signed_in(&self) -> bool {
        self.browser
            .get(format!("{}/me", self.rp))
            .send()
            .await
            .unwrap()
            .status()
            == 200
    }
}

fn edit(f: impl Fn(&mut Value, &mut Value) + Send + Sync + 'static) -> impl FnOnce(&Fake) {
    move |fake: &Fake| *fake.edit.lock().unwrap() = Arc::new(f)
}

/// Runs a fault and checks the RP refused it without calling userinfo.
async fn refused(name: &str, configure: impl FnOnce(&Fake)) {
    let rig = rig(configure, |b| b).await;
    let r = rig.login().await;
    assert_ne!(r.status(), 200, "{name}: the login must fail");
    assert!(!rig.signed_in().await, "{name}: no session");
    assert_eq!(
        rig.fake.userinfo_calls.load(Ordering::SeqCst),
        0,
        "{name}: no userinfo call after the fault"
    );
}

#[tokio::test]
async fn baseline_login_is_accepted() {
    let rig = rig(|_| {}, |b| b).await;
    let r = rig.login().await;
    assert_eq!(r.status(), 200);
    assert!(rig.signed_in().await);
}

#[tokio::test]
async fn bad_signatures_are_refused() {
    refused("unpublished RS256 key, published kid", |f| {
        *f.sign.lock().unwrap() = Sign::Key(2);
        let kid = f.pool[0].kid().to_owned();
        *f.edit.lock().unwrap() = Arc::new(move |_, h| h["kid"] = json!(kid));
    })
    .await;
    refused("bad ES256 signature under the published ES256 kid", |f| {
        let kid = f.pool[1].kid().to_owned();
        *f.sign.lock().unwrap() = Sign::Key(2);
        *f.edit.lock().unwrap() = Arc::new(move |_, h| {
            h["kid"] = json!(kid);
            h["alg"] = json!("ES256");
        });
    })
    .await;
}

#[tokio::test]
async fn alg_none_and_algorithm_confusion_are_refused() {
    refused("alg none", |f| *f.sign.lock().unwrap() = Sign::Nothing).await;
    refused("HS256 with the public key as secret", |f| {
        let public = serde_json::to_vec(&f.pool[0].public_jwk().unwrap()).unwrap();
        *f.sign.lock().unwrap() = Sign::Hmac(public);
    })
    .await;
}

#[tokio::test]
async fn claim_faults_are_refused() {
    let cases: Vec<(&str, Edit)> = vec![
        (
            "wrong iss",
            Arc::new(|c, _| c["iss"] = json!("https://evil.example")),
        ),
        (
            "wrong aud",
            Arc::new(|c, _| c["aud"] = json!("another-client")),
        ),
        (
            "missing aud",
            Arc::new(|c, _| {
                c.as_object_mut().unwrap().remove("aud");
            }),
        ),
        (
            "missing iat",
            Arc::new(|c, _| {
                c.as_object_mut().unwrap().remove("iat");
            }),
        ),
        (
            "missing sub",
            Arc::new(|c, _| {
                c.as_object_mut().unwrap().remove("sub");
            }),
        ),
        (
            "expired",
            Arc::new(|c, _| c["exp"] = json!(SystemClock.now() - 3600)),
        ),
        (
            "wrong nonce",
            Arc::new(|c, _| c["nonce"] = json!("not-the-nonce")),
        ),
        (
            "bad at_hash",
            Arc::new(|c, _| c["at_hash"] = json!(token_hash(JwsAlgorithm::RS256, "another"))),
        ),
        (
            "bad c_hash",
            Arc::new(|c, _| c["c_hash"] = json!(token_hash(JwsAlgorithm::RS256, "another"))),
        ),
        (
            "extra audience not allowlisted",
            Arc::new(|c, _| {
                c["aud"] = json!(["rp", "https://api.other"]);
                c["azp"] = json!("rp");
            }),
        ),
    ];
    for (name, e) in cases {
        refused(name, move |f| *f.edit.lock().unwrap() = e).await;
    }
}

#[tokio::test]
async fn a_userinfo_sub_that_differs_is_refused() {
    let rig = rig(
        |f| *f.userinfo_sub.lock().unwrap() = Some("someone-else".into()),
        |b| b,
    )
    .await;
    let r = rig.login().await;
    assert_ne!(r.status(), 200);
    assert!(!rig.signed_in().await);
}

#[tokio::test]
async fn a_discovery_issuer_that_differs_is_refused() {
    let fake = fake_op().await;
    *fake.discovery_issuer.lock().unwrap() = Some("https://evil.example".into());
    let err = OidcClient::builder(Issuer::new(fake.base.clone()).unwrap(), "rp")
        .with_client_secret(SECRET)
        .with_redirect_uri("http://127.0.0.1:1/callback".parse().unwrap())
        .build()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("issuer"), "{err}");
}

#[tokio::test]
async fn accepted_variations() {
    // No kid, one RS256 key published.
    let rig1 = rig(
        edit(|_, h| {
            h.as_object_mut().unwrap().remove("kid");
        }),
        |b| b,
    )
    .await;
    assert_eq!(rig1.login().await.status(), 200, "no kid");
    // Key rotation (and rotation within a minute: keys.rs).
    let rig2 = rig(|_| {}, |b| b).await;
    assert_eq!(rig2.login().await.status(), 200);
    rig2.clock.advance(120);
    rig2.fake.rotate_to(3);
    let fresh = browser();
    let (r, _) = follow(&fresh, &format!("{}/login?next=/account", rig2.rp), "x").await;
    assert_eq!(r.status(), 200, "rotation");
    // An allowlisted extra audience with a matching azp.
    let rig3 = rig(
        edit(|c, _| {
            c["aud"] = json!(["rp", "https://api.example"]);
            c["azp"] = json!("rp");
        }),
        |b| b.with_trusted_audiences(["https://api.example"]),
    )
    .await;
    assert_eq!(rig3.login().await.status(), 200, "allowlisted audience");
    // ES256 signatures.
    let rig4 = rig(|f| *f.sign.lock().unwrap() = Sign::Key(1), |b| b).await;
    assert_eq!(rig4.login().await.status(), 200, "ES256");
}

#[tokio::test]
async fn a_mixed_up_iss_parameter_stops_before_the_token_request() {
    let rig = rig(|_| {}, |b| b).await;
    let r = rig
        .browser
        .get(format!("{}/login?next=/", rig.rp))
        .send()
        .await
        .unwrap();
    let auth = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let state = auth
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let r = rig
        .browser
        .get(format!("{}/callback", rig.rp))
        .query(&[
            ("code", "the-code"),
            ("state", state.as_str()),
            ("iss", "https://evil.example"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        rig.fake.token_calls.load(Ordering::SeqCst),
        0,
        "no token request after a mix-up"
    );
}

#[tokio::test]
async fn an_advertised_iss_parameter_that_is_missing_is_refused() {
    let rig = rig(
        |f| {
            f.advertise_iss.store(true, Ordering::SeqCst);
            f.send_iss.store(false, Ordering::SeqCst);
        },
        |b| b,
    )
    .await;
    let r = rig.login().await;
    assert_eq!(r.status(), 400);
    assert!(!rig.signed_in().await);
    assert_eq!(rig.fake.token_calls.load(Ordering::SeqCst), 0);
    // Not advertised and not sent: accepted (most providers today).
    let rig = rig_default_without_iss().await;
    assert_eq!(rig.login().await.status(), 200);
}

async fn rig_default_without_iss() -> Rig {
    rig(|f| f.send_iss.store(false, Ordering::SeqCst), |b| b).await
}

/// Two hostile providers `a` and `b` behind one registry.
async fn two_fakes() -> (Arc<Fake>, Arc<Fake>, String, reqwest::Client) {
    let (a, b) = (fake_op().await, fake_op().await);
    let (listener, rp) = rp_listener().await;
    let client = |f: &Arc<Fake>, name: &str| {
        OidcClient::builder(Issuer::new(f.base.clone()).unwrap(), "rp")
            .with_name(name)
            .with_client_secret(SECRET)
            .with_redirect_uri(format!("{rp}/callback/{name}").parse().unwrap())
            .build()
    };
    let providers = sesame_rp::OidcProviders::builder()
        .with_provider(client(&a, "a").await.unwrap())
        .with_provider(client(&b, "b").await.unwrap())
        .build()
        .unwrap();
    rp_providers_app(providers, listener).await;
    (a, b, rp, browser())
}

#[tokio::test]
async fn mix_up_a_state_for_one_provider_at_another_callback_calls_neither() {
    let (a, b, rp, browser) = two_fakes().await;
    let callback = until_callback(
        &browser,
        &format!("{rp}/login/a?next=/account"),
        "x",
        &format!("{rp}/callback/a?"),
    )
    .await;
    let state = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    // B's authorization response (its own iss, a code from B) carrying A's state.
    let r = browser
        .get(format!("{rp}/callback/b"))
        .query(&[
            ("code", "the-code"),
            ("state", state.as_str()),
            ("iss", b.base.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(b.token_calls.load(Ordering::SeqCst), 0, "no call to b");
    assert_eq!(a.token_calls.load(Ordering::SeqCst), 0, "no call to a");
    // A's response with B's iss at A's callback: RFC 9207 stops it.
    let callback = until_callback(
        &browser,
        &format!("{rp}/login/a?next=/account"),
        "x",
        &format!("{rp}/callback/a?"),
    )
    .await;
    let forged = callback.replace(
        &url::form_urlencoded::byte_serialize(a.base.as_bytes()).collect::<String>(),
        &url::form_urlencoded::byte_serialize(b.base.as_bytes()).collect::<String>(),
    );
    assert_ne!(forged, callback);
    let r = browser.get(&forged).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(a.token_calls.load(Ordering::SeqCst), 0);
    assert_eq!(b.token_calls.load(Ordering::SeqCst), 0);
    // The honest path still works.
    let (r, _) = follow(&browser, &format!("{rp}/login/b?next=/account"), "x").await;
    assert_eq!(r.text().await.unwrap(), "hello victim via b");
    assert_eq!(b.token_calls.load(Ordering::SeqCst), 1);
    assert_eq!(a.token_calls.load(Ordering::SeqCst), 0);
}

fn front(f: impl Fn(&mut Value, &mut Value) + Send + Sync + 'static) -> Edit {
    Arc::new(f)
}

/// Runs a front-channel fault with `response_type` and checks the RP refused
/// it without redeeming the code or calling userinfo.
async fn front_refused(name: &str, response_type: ResponseType, fault: Edit) {
    let rig = rig(
        move |f| *f.front_edit.lock().unwrap() = fault,
        |b| b.with_response_type(response_type),
    )
    .await;
    let status = rig.login_forms().await;
    assert_ne!(status, 200, "{name}: the login must fail");
    assert!(!rig.signed_in().await, "{name}: no session");
    assert_eq!(
        rig.fake.token_calls.load(Ordering::SeqCst),
        0,
        "{name}: the code is not redeemed after the fault"
    );
    assert_eq!(
        rig.fake.userinfo_calls.load(Ordering::SeqCst),
        0,
        "{name}: no userinfo call"
    );
}

#[tokio::test]
async fn hybrid_code_id_token_by_form_post_is_accepted() {
    let rig = rig(|_| {}, |b| b.with_response_type(ResponseType::CodeIdToken)).await;
    assert_eq!(rig.login_forms().await, 200);
    assert!(rig.signed_in().await);
    assert_eq!(rig.fake.token_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn hybrid_front_channel_faults_are_refused_before_the_code_is_redeemed() {
    let cases: Vec<(&str, Edit)> = vec![
        (
            "wrong c_hash",
            front(|c, _| c["c_hash"] = json!(token_hash(JwsAlgorithm::RS256, "another"))),
        ),
        (
            "missing c_hash",
            front(|c, _| {
                c.as_object_mut().unwrap().remove("c_hash");
            }),
        ),
        (
            "missing nonce",
            front(|c, _| {
                c.as_object_mut().unwrap().remove("nonce");
            }),
        ),
        (
            "wrong nonce",
            front(|c, _| c["nonce"] = json!("not-the-nonce")),
        ),
        (
            "wrong iss",
            front(|c, _| c["iss"] = json!("https://evil.example")),
        ),
        (
            "wrong aud",
            front(|c, _| c["aud"] = json!("another-client")),
        ),
    ];
    for (name, fault) in cases {
        front_refused(name, ResponseType::CodeIdToken, fault).await;
    }
}

#[tokio::test]
async fn hybrid_front_and_token_endpoint_id_tokens_must_be_about_one_user() {
    let rig = rig(
        |f| *f.front_edit.lock().unwrap() = front(|c, _| c["sub"] = json!("someone-else")),
        |b| b.with_response_type(ResponseType::CodeIdToken),
    )
    .await;
    assert_ne!(rig.login_forms().await, 200);
    assert!(!rig.signed_in().await);
    assert_eq!(rig.fake.userinfo_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn implicit_id_token_token_checks_at_hash() {
    let rig1 = rig(|_| {}, |b| b.with_response_type(ResponseType::IdTokenToken)).await;
    assert_eq!(rig1.login_forms().await, 200);
    assert!(rig1.signed_in().await);
    assert_eq!(rig1.fake.token_calls.load(Ordering::SeqCst), 0, "no code");
    assert_eq!(rig1.fake.userinfo_calls.load(Ordering::SeqCst), 1);
    front_refused(
        "implicit: missing at_hash",
        ResponseType::IdTokenToken,
        front(|c, _| {
            c.as_object_mut().unwrap().remove("at_hash");
        }),
    )
    .await;
    front_refused(
        "implicit: wrong at_hash",
        ResponseType::IdTokenToken,
        front(|c, _| c["at_hash"] = json!(token_hash(JwsAlgorithm::RS256, "another"))),
    )
    .await;
    front_refused(
        "implicit: missing nonce",
        ResponseType::IdToken,
        front(|c, _| {
            c.as_object_mut().unwrap().remove("nonce");
        }),
    )
    .await;
}

#[tokio::test]
async fn a_hybrid_response_in_the_query_string_is_refused() {
    let rig = rig(|_| {}, |b| b.with_response_type(ResponseType::CodeIdToken)).await;
    let r = rig
        .browser
        .get(format!("{}/login?next=/", rig.rp))
        .send()
        .await
        .unwrap();
    let authorize = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(authorize.contains("response_mode=form_post"), "{authorize}");
    assert!(
        authorize.contains("response_type=code+id_token"),
        "{authorize}"
    );
    let html = rig
        .browser
        .get(&authorize)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (action, fields) = post_form(&html).unwrap();
    let r = rig
        .browser
        .get(&action)
        .query(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(!rig.signed_in().await);
    assert_eq!(rig.fake.token_calls.load(Ordering::SeqCst), 0);
}

/// `code token` (issue 14): by form_post, the code redeemed with PKCE, the
/// token endpoint's ID token checked and its access token kept (the front
/// channel's, which no front-channel ID token binds, is not used).
#[tokio::test]
async fn hybrid_code_token_uses_the_token_endpoints_tokens() {
    let good = rig(|_| {}, |b| b.with_response_type(ResponseType::CodeToken)).await;
    let r = good
        .browser
        .get(format!("{}/login?next=/", good.rp))
        .send()
        .await
        .unwrap();
    let authorize = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        authorize.contains("response_type=code+token"),
        "{authorize}"
    );
    assert!(authorize.contains("response_mode=form_post"), "{authorize}");
    assert!(authorize.contains("code_challenge="), "{authorize}");
    assert_eq!(good.login_forms().await, 200);
    assert!(good.signed_in().await);
    assert_eq!(good.fake.token_calls.load(Ordering::SeqCst), 1);
    assert_eq!(good.fake.userinfo_calls.load(Ordering::SeqCst), 1);
    // The token endpoint's ID token is checked as in the code flow.
    let bad = rig(
        |f: &Fake| *f.edit.lock().unwrap() = front(|c, _| c["nonce"] = json!("not-the-nonce")),
        |b| b.with_response_type(ResponseType::CodeToken),
    )
    .await;
    assert_ne!(bad.login_forms().await, 200);
    assert!(!bad.signed_in().await);
    assert_eq!(bad.fake.userinfo_calls.load(Ordering::SeqCst), 0);
}

/// A `code token` response (tokens in it) that arrives in the query string is refused.
#[tokio::test]
async fn a_code_token_response_in_the_query_string_is_refused() {
    let rig = rig(|_| {}, |b| b.with_response_type(ResponseType::CodeToken)).await;
    let r = rig
        .browser
        .get(format!("{}/login?next=/", rig.rp))
        .send()
        .await
        .unwrap();
    let authorize = r.headers()["location"].to_str().unwrap().to_owned();
    let html = rig
        .browser
        .get(&authorize)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (action, fields) = post_form(&html).unwrap();
    let r = rig
        .browser
        .get(&action)
        .query(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(!rig.signed_in().await);
    assert_eq!(rig.fake.token_calls.load(Ordering::SeqCst), 0);
}

/// REVIEW S9: a `max_age` given as an auth parameter is checked against the
/// ID token's `auth_time`.
#[tokio::test]
async fn max_age_from_the_auth_params_is_checked_against_auth_time() {
    let old = rig(
        edit(|c, _| c["auth_time"] = json!(SystemClock.now() - 3600)),
        |b| b.with_auth_param("max_age", "60"),
    )
    .await;
    assert_ne!(old.login().await.status(), 200, "auth_time an hour ago");
    assert!(!old.signed_in().await);
    assert_eq!(old.fake.userinfo_calls.load(Ordering::SeqCst), 0);
    let recent = rig(
        edit(|c, _| c["auth_time"] = json!(SystemClock.now() - 10)),
        |b| b.with_auth_param("max_age", "60"),
    )
    .await;
    assert_eq!(recent.login().await.status(), 200);
    assert!(recent.signed_in().await);
}

/// REVIEW S19: another user's sign-in on the same browser starts its own
/// login time, so `max_session_age` counts from it.
#[tokio::test]
async fn a_different_users_sign_in_starts_a_fresh_login_time() {
    let rig = rig(|_| {}, |b| b.with_max_session_age(1500)).await;
    assert_eq!(rig.login().await.status(), 200);
    rig.clock.advance(1000);
    let clock = rig.clock.clone();
    *rig.fake.edit.lock().unwrap() = Arc::new(move |c, _| {
        c["sub"] = json!("bob");
        c["iat"] = json!(clock.now());
        c["exp"] = json!(clock.now() + 300);
    });
    *rig.fake.userinfo_sub.lock().unwrap() = Some("bob".into());
    assert_eq!(rig.login().await.status(), 200);
    rig.clock.advance(600);
    assert!(
        rig.signed_in().await,
        "bob signed in 600 s ago, within max_session_age"
    );
}
