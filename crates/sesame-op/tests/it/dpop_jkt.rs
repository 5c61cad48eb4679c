//! Authorization codes bound to a DPoP key (RFC 9449 §10): `dpop_jkt` at
//! the authorization endpoint and at PAR, or a DPoP proof sent with the
//! push (§10.1); the code is redeemed only with a proof of that key.

use crate::dpop::{Holder, redeem_with};
use crate::support::*;

async fn push(h: &Harness, params: &[(String, String)], proof: Option<&str>) -> reqwest::Response {
    let mut r = h
        .http
        .post(h.url("/par"))
        .basic_auth("app", Some(SECRET))
        .form(params);
    if let Some(p) = proof {
        r = r.header("DPoP", p);
    }
    r.send().await.unwrap()
}

/// The pushed request `uri`, through login and consent; its redirect's query.
async fn through(h: &Harness, uri: &str) -> std::collections::HashMap<String, String> {
    let mut r = h
        .authorize(&[("client_id", "app"), ("request_uri", uri)])
        .await;
    if location_opt(&r).is_some_and(|l| l.contains("/test-login")) {
        r = h.login(r, "dora").await;
    }
    if r.status() == 200 {
        r = h.consent(r, true).await;
    }
    redirect_params(&r)
}

async fn refused_grant(r: reqwest::Response) {
    assert_eq!(r.status(), 400);
    let e = json(r).await;
    assert_eq!(e["error"], "invalid_grant", "{e}");
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("dpop_jkt"),
        "{e}"
    );
}

#[tokio::test]
async fn a_code_bound_with_dpop_jkt_needs_a_proof_of_that_key() {
    let h = start().await;
    h.client("app", |_| {}).await;
    let holder = Holder::new();
    let thief = Holder::new();
    let jkt = holder.jkt();
    for proof in [None, Some(thief.proof(&h, "POST", "/token", None))] {
        let q = h.code("app", "dora", &[("dpop_jkt", &jkt)]).await;
        refused_grant(redeem_with(&h, "app", &q, proof.as_deref()).await).await;
    }
    let q = h.code("app", "dora", &[("dpop_jkt", &jkt)]).await;
    let r = redeem_with(
        &h,
        "app",
        &q,
        Some(&holder.proof(&h, "POST", "/token", None)),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["token_type"], "DPoP");
    // A value that cannot be a thumbprint goes back as invalid_request.
    let q = h
        .code("app", "dora", &[("dpop_jkt", "not-a-thumbprint")])
        .await;
    assert_eq!(q["error"], "invalid_request", "{q:?}");
    assert!(q["error_description"].contains("dpop_jkt"), "{q:?}");
}

#[tokio::test]
async fn a_proof_at_par_binds_the_code_and_must_match_dpop_jkt() {
    let h = start().await;
    h.client("app", |_| {}).await;
    let holder = Holder::new();
    let thief = Holder::new();
    let (verifier, params) = code_params("app");

    // A proof and a dpop_jkt of another key: refused.
    let mut mismatched = params.clone();
    mismatched.push(("dpop_jkt".into(), thief.jkt()));
    let r = push(
        &h,
        &mismatched,
        Some(&holder.proof(&h, "POST", "/par", None)),
    )
    .await;
    assert_eq!(r.status(), 400);
    let e = json(r).await;
    assert_eq!(e["error"], "invalid_dpop_proof", "{e}");
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("dpop_jkt"),
        "{e}"
    );

    // A proof with the same dpop_jkt, or alone, binds the code to its key.
    let mut matching = params.clone();
    matching.push(("dpop_jkt".into(), holder.jkt()));
    for form in [&matching, &params] {
        let r = push(&h, form, Some(&holder.proof(&h, "POST", "/par", None))).await;
        assert_eq!(r.status(), 201);
        let uri = json(r).await["request_uri"].as_str().unwrap().to_owned();
        let mut q = through(&h, &uri).await;
        q.insert("code_verifier".into(), verifier.clone());
        refused_grant(redeem_with(&h, "app", &q, None).await).await;
    }
    let r = push(&h, &params, Some(&holder.proof(&h, "POST", "/par", None))).await;
    let uri = json(r).await["request_uri"].as_str().unwrap().to_owned();
    let mut q = through(&h, &uri).await;
    q.insert("code_verifier".into(), verifier.clone());
    let r = redeem_with(
        &h,
        "app",
        &q,
        Some(&holder.proof(&h, "POST", "/token", None)),
    )
    .await;
    assert_eq!(r.status(), 200);

    // A push without a proof binds nothing.
    let r = push(&h, &params, None).await;
    let uri = json(r).await["request_uri"].as_str().unwrap().to_owned();
    let mut q = through(&h, &uri).await;
    q.insert("code_verifier".into(), verifier);
    assert_eq!(h.redeem("app", &q).await.status(), 200);
}
