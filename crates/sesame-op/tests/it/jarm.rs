//! JWT Secured Authorization Response Mode (JARM): the four modes end to
//! end, the response JWT verified with the provider's JWKS, errors in JWT
//! form, and the combinations the specification refuses.

use std::collections::HashMap;

use serde_json::Value;
use sesame_core::JwsAlgorithm;

use crate::support::*;

const ALGS: [JwsAlgorithm; 3] = [
    JwsAlgorithm::RS256,
    JwsAlgorithm::ES256,
    JwsAlgorithm::EdDSA,
];

/// The authorization request with `extra` replacing `code_params`' own,
/// through login (and consent, when asked); the response and the verifier.
async fn run(h: &Harness, client: &str, extra: &[(&str, &str)]) -> (reqwest::Response, String) {
    let (verifier, mut params) = code_params(client);
    for (k, v) in extra {
        params.retain(|(name, _)| name != k);
        params.push(((*k).to_owned(), (*v).to_owned()));
    }
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut r = h.authorize(&pairs).await;
    if location_opt(&r).is_some_and(|l| l.contains("/test-login")) {
        r = h.login(r, "jo").await;
    }
    (r, verifier)
}

/// The one `response` parameter of a redirect, and where it travelled.
fn response_of(r: &reqwest::Response) -> (String, &'static str) {
    let to = location(r);
    let url = url::Url::parse(&to).unwrap();
    let (q, place): (HashMap<String, String>, _) = match url.fragment() {
        Some(f) => (
            url::form_urlencoded::parse(f.as_bytes())
                .into_owned()
                .collect(),
            "fragment",
        ),
        None => (url.query_pairs().into_owned().collect(), "query"),
    };
    assert_eq!(q.len(), 1, "only the response JWT travels: {q:?}");
    (q["response"].clone(), place)
}

/// Verifies the response JWT with the JWKS and checks iss, aud and exp.
async fn verified(h: &Harness, token: &str, alg: JwsAlgorithm) -> Value {
    let v = sesame_core::jws::verify(token, &h.jwks().await, &ALGS, None).unwrap();
    assert_eq!(v.header.alg, alg);
    let claims: Value = v.claims().unwrap();
    assert_eq!(claims["iss"], h.base.as_str());
    assert_eq!(claims["aud"], "app");
    let exp = claims["exp"].as_i64().unwrap();
    let now = sesame_core::Clock::now(&h.clock);
    assert!(exp > now && exp <= now + 600, "exp {exp}, now {now}");
    claims
}

async fn jarm_client(h: &Harness, edit: impl FnOnce(&mut sesame_op::Client)) {
    h.client("app", |c| {
        c.skip_consent = true;
        c.response_types = vec!["code".into(), "code id_token".into()];
        edit(c);
    })
    .await;
}

#[tokio::test]
async fn discovery_lists_the_jwt_modes_and_algorithms() {
    let h = start().await;
    let d = json(
        h.http
            .get(h.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    for mode in ["jwt", "query.jwt", "fragment.jwt", "form_post.jwt"] {
        assert!(
            d["response_modes_supported"]
                .as_array()
                .unwrap()
                .contains(&Value::from(mode)),
            "{mode}: {d}"
        );
    }
    let algs = d["authorization_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algs.contains(&Value::from("RS256")), "{algs:?}");
}

#[tokio::test]
async fn jwt_and_query_jwt_carry_the_code_in_a_signed_query_response() {
    let h = start().await;
    jarm_client(&h, |_| {}).await;
    for mode in ["jwt", "query.jwt"] {
        let (r, verifier) = run(&h, "app", &[("response_mode", mode)]).await;
        let (token, place) = response_of(&r);
        assert_eq!(place, "query", "{mode}");
        let claims = verified(&h, &token, JwsAlgorithm::RS256).await;
        assert_eq!(claims["state"], "st-123");
        // The code in the JWT is the real one.
        let mut q = HashMap::new();
        q.insert("code".into(), claims["code"].as_str().unwrap().to_owned());
        q.insert("code_verifier".into(), verifier);
        assert_eq!(h.redeem("app", &q).await.status(), 200, "{mode}");
    }
}

#[tokio::test]
async fn fragment_jwt_and_token_response_types_use_the_fragment() {
    let h = start().await;
    jarm_client(&h, |_| {}).await;
    let (r, _) = run(&h, "app", &[("response_mode", "fragment.jwt")]).await;
    let (token, place) = response_of(&r);
    assert_eq!(place, "fragment");
    assert!(verified(&h, &token, JwsAlgorithm::RS256).await["code"].is_string());
    // `jwt` with a response type that returns tokens means fragment.jwt.
    let hybrid = [("response_type", "code id_token"), ("response_mode", "jwt")];
    let (r, _) = run(&h, "app", &hybrid).await;
    let (token, place) = response_of(&r);
    assert_eq!(place, "fragment");
    let claims = verified(&h, &token, JwsAlgorithm::RS256).await;
    let id = claims["id_token"].as_str().unwrap();
    h.validate("app", id, Some("nonce-123")).await;
}

#[tokio::test]
async fn query_jwt_is_refused_for_token_response_types_with_a_jwt_error() {
    let h = start().await;
    jarm_client(&h, |_| {}).await;
    let refused = [
        ("response_type", "code id_token"),
        ("response_mode", "query.jwt"),
    ];
    let (r, _) = run(&h, "app", &refused).await;
    // The error itself travels as a JWT, in the fragment.
    let (token, place) = response_of(&r);
    assert_eq!(place, "fragment");
    let claims = verified(&h, &token, JwsAlgorithm::RS256).await;
    assert_eq!(claims["error"], "invalid_request");
    assert!(
        claims["error_description"]
            .as_str()
            .unwrap()
            .contains("query.jwt"),
        "{claims}"
    );
    assert_eq!(claims["state"], "st-123");
    assert!(claims.get("id_token").is_none() && claims.get("code").is_none());
}

#[tokio::test]
async fn form_post_jwt_posts_one_response_field() {
    let h = start().await;
    jarm_client(&h, |_| {}).await;
    let (r, _) = run(&h, "app", &[("response_mode", "form_post.jwt")]).await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("form-action https://rp.example"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(!html.contains("name=\"code\""), "{html}");
    assert!(!html.contains("name=\"state\""), "{html}");
    let token = hidden(&html, "response");
    let claims = verified(&h, &token, JwsAlgorithm::RS256).await;
    assert!(claims["code"].is_string());
    assert_eq!(claims["state"], "st-123");
}

#[tokio::test]
async fn the_clients_algorithm_signs_its_responses() {
    let h = start().await;
    jarm_client(&h, |c| {
        c.authorization_signed_response_alg = Some(JwsAlgorithm::ES256);
    })
    .await;
    let (r, _) = run(&h, "app", &[("response_mode", "jwt")]).await;
    let (token, _) = response_of(&r);
    verified(&h, &token, JwsAlgorithm::ES256).await;
}

#[tokio::test]
async fn errors_and_a_denied_consent_come_back_as_jwts() {
    let h = start().await;
    h.client("app", |_| {}).await;
    // A bad parameter: invalid_scope, in a JWT.
    let (r, _) = run(&h, "app", &[("response_mode", "jwt"), ("scope", "profile")]).await;
    let (token, place) = response_of(&r);
    assert_eq!(place, "query");
    let claims = verified(&h, &token, JwsAlgorithm::RS256).await;
    assert_eq!(claims["error"], "invalid_scope");
    assert_eq!(claims["state"], "st-123");
    // prompt=none without a session: login_required, in a JWT.
    let fresh = start().await;
    fresh.client("app", |_| {}).await;
    let (r, _) = run(
        &fresh,
        "app",
        &[("response_mode", "jwt"), ("prompt", "none")],
    )
    .await;
    let claims = verified(&fresh, &response_of(&r).0, JwsAlgorithm::RS256).await;
    assert_eq!(claims["error"], "login_required");
    // The user denies consent: access_denied, in a JWT.
    let (r, _) = run(&h, "app", &[("response_mode", "form_post.jwt")]).await;
    assert_eq!(r.status(), 200, "the consent page");
    let r = h.consent(r, false).await;
    assert_eq!(r.status(), 200, "form_post.jwt");
    let html = r.text().await.unwrap();
    let claims = verified(&h, &hidden(&html, "response"), JwsAlgorithm::RS256).await;
    assert_eq!(claims["error"], "access_denied");
    assert_eq!(claims["state"], "st-123");
}

#[tokio::test]
async fn an_unknown_jwt_mode_is_refused_in_plain_form() {
    let h = start().await;
    jarm_client(&h, |_| {}).await;
    let (r, _) = run(&h, "app", &[("response_mode", "query.jwe")]).await;
    let q = redirect_params(&r);
    assert_eq!(q["error"], "invalid_request", "{q:?}");
    assert!(q["error_description"].contains("response_mode"), "{q:?}");
}
