//! Signed UserInfo answers (OIDC Core §5.3.2, REVIEW S26): the relying party
//! verifies the JWT with the provider's keys and the algorithm allowed for the
//! client, and checks `typ`, `iss`, `aud` and `sub` before it signs anyone in.

use super::*;

/// The fake's signed UserInfo answer: `claims` with `iss`, `aud` and `iat`
/// added, a `JWT` header, then `edit`, signed as `sign` says.
pub(super) fn signed(f: &Fake, sign: Sign, edit: &Edit, mut claims: Value) -> Response {
    let (alg, kid) = match &sign {
        Sign::Key(i) => (f.pool[*i].alg().as_str().to_owned(), f.pool[*i].kid()),
        Sign::Nothing => ("none".to_owned(), f.pool[0].kid()),
        Sign::Hmac(_) => ("HS256".to_owned(), f.pool[0].kid()),
    };
    let mut header = json!({"alg": alg, "kid": kid, "typ": "JWT"});
    claims["iss"] = json!(f.base);
    claims["aud"] = json!("rp");
    claims["iat"] = json!(SystemClock.now());
    edit(&mut claims, &mut header);
    let token = compact(f, sign, &header, &claims);
    (
        [(axum::http::header::CONTENT_TYPE, "application/jwt")],
        token,
    )
        .into_response()
}

/// Makes the fake answer UserInfo signed as `sign`, edited by `edit`.
fn signed_as(
    sign: Sign,
    edit: impl Fn(&mut Value, &mut Value) + Send + Sync + 'static,
) -> impl FnOnce(&Fake) {
    move |f: &Fake| *f.userinfo_jwt.lock().unwrap() = Some((sign, Arc::new(edit)))
}

type Client = fn(sesame_rp::OidcClientBuilder) -> sesame_rp::OidcClientBuilder;

fn expects_es256(b: sesame_rp::OidcClientBuilder) -> sesame_rp::OidcClientBuilder {
    b.with_userinfo_signing_alg(JwsAlgorithm::ES256)
}

/// The login fails with the "failed this site's checks" page after one
/// UserInfo call, and nobody is signed in.
async fn refused(name: &str, configure: impl FnOnce(&Fake), client: Client) {
    let rig = rig(configure, client).await;
    let r = rig.login().await;
    assert_eq!(r.status(), 400, "{name}: the login must fail its checks");
    assert!(!rig.signed_in().await, "{name}: no session");
    assert_eq!(
        rig.fake.userinfo_calls.load(Ordering::SeqCst),
        1,
        "{name}: refused at the UserInfo answer"
    );
}

/// The login succeeds and the signed answer's claims reach the session.
async fn accepted(name: &str, configure: impl FnOnce(&Fake), client: Client) {
    let rig = rig(configure, client).await;
    assert_eq!(rig.login().await.status(), 200, "{name}: the login");
    let me: Value = rig
        .browser
        .get(format!("{}/me", rig.rp))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["sub"], "victim", "{name}");
    assert_eq!(
        me["claims"]["email"], "victim@example.com",
        "{name}: the UserInfo claims"
    );
}

#[tokio::test]
async fn a_signed_userinfo_answer_is_verified_and_accepted() {
    accepted(
        "RS256, iss, aud, typ JWT",
        signed_as(Sign::Key(0), |_, _| {}),
        |b| b,
    )
    .await;
    accepted(
        "ES256 as registered",
        signed_as(Sign::Key(1), |_, _| {}),
        expects_es256,
    )
    .await;
    type Variation = (&'static str, fn(&mut Value, &mut Value));
    let variations: [Variation; 4] = [
        ("no typ", |_, h| {
            h.as_object_mut().unwrap().remove("typ");
        }),
        ("typ application/jwt", |_, h| {
            h["typ"] = json!("application/jwt");
        }),
        ("aud an array naming the client", |c, _| {
            c["aud"] = json!(["other-api", "rp"]);
        }),
        ("neither iss nor aud", |c, _| {
            let c = c.as_object_mut().unwrap();
            c.remove("iss");
            c.remove("aud");
        }),
    ];
    for (name, edit) in variations {
        accepted(name, signed_as(Sign::Key(0), edit), |b| b).await;
    }
}

#[tokio::test]
async fn a_signed_userinfo_answer_with_a_bad_signature_is_refused() {
    refused(
        "an unpublished key under a published kid",
        |f| {
            let kid = f.pool[0].kid().to_owned();
            signed_as(Sign::Key(2), move |_, h| h["kid"] = json!(kid))(f);
        },
        |b| b,
    )
    .await;
    refused("alg none", signed_as(Sign::Nothing, |_, _| {}), |b| b).await;
    refused(
        "HS256 keyed with the client secret, never allowed for this client",
        signed_as(Sign::Hmac(SECRET.as_bytes().to_vec()), |_, _| {}),
        |b| b,
    )
    .await;
}

#[tokio::test]
async fn a_signed_userinfo_answer_must_use_the_registered_algorithm() {
    // RS256 is an ID token algorithm of this client, but its UserInfo is ES256.
    refused(
        "RS256 from a published key",
        signed_as(Sign::Key(0), |_, _| {}),
        expects_es256,
    )
    .await;
    refused(
        "plain JSON",
        |f| *f.userinfo_jwt.lock().unwrap() = None,
        expects_es256,
    )
    .await;
}

#[tokio::test]
async fn a_signed_userinfo_answer_with_another_typ_is_refused() {
    for typ in ["at+jwt", "logout+jwt", "JWS"] {
        refused(
            typ,
            signed_as(Sign::Key(0), move |_, h| h["typ"] = json!(typ)),
            |b| b,
        )
        .await;
    }
}

#[tokio::test]
async fn a_signed_userinfo_answer_from_another_issuer_is_refused() {
    refused(
        "another issuer",
        signed_as(Sign::Key(0), |c, _| {
            c["iss"] = json!("https://evil.example")
        }),
        |b| b,
    )
    .await;
    refused(
        "iss not a string",
        signed_as(Sign::Key(0), |c, _| c["iss"] = json!(["x"])),
        |b| b,
    )
    .await;
}

#[tokio::test]
async fn a_signed_userinfo_answer_for_another_client_is_refused() {
    refused(
        "aud another client",
        signed_as(Sign::Key(0), |c, _| c["aud"] = json!("other-rp")),
        |b| b,
    )
    .await;
    refused(
        "aud an array without this client",
        signed_as(Sign::Key(0), |c, _| c["aud"] = json!(["other-rp", "api"])),
        |b| b,
    )
    .await;
    refused(
        "aud not a string",
        signed_as(Sign::Key(0), |c, _| c["aud"] = json!(7)),
        |b| b,
    )
    .await;
}

#[tokio::test]
async fn a_signed_userinfo_answer_about_another_user_is_refused() {
    refused(
        "another sub",
        signed_as(Sign::Key(0), |c, _| c["sub"] = json!("someone-else")),
        |b| b,
    )
    .await;
}
