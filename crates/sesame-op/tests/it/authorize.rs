use sesame_core::ErrorCode;

use crate::support::*;

#[tokio::test]
async fn code_flow_happy_path_with_every_check() {
    let h = start().await;
    h.client("app", |c| c.client_name = Some("The App".into()))
        .await;
    let (verifier, params) = code_params("app");
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();

    // Not logged in: off to the host app's login.
    let r = h.authorize(&pairs).await;
    assert_eq!(r.status(), 303);
    // Logged in: the consent page names the client and the scopes, and carries CSRF.
    let r = h.login(r, "alice").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("The App"));
    assert!(html.contains("See your email address"));
    assert!(
        html.contains("name=\"allow\"")
            && html.contains("name=\"deny\"")
            && html.contains("csrf_token")
    );
    let interaction = hidden(&html, "interaction");
    let csrf = hidden(&html, "csrf_token");
    let r = h
        .browser
        .post(h.url("/consent"))
        .form(&[
            ("interaction", interaction.as_str()),
            ("csrf_token", csrf.as_str()),
            ("allow", "1"),
        ])
        .send()
        .await
        .unwrap();
    let q = redirect_params(&r);
    assert_eq!(q["state"], "st-123");
    assert_eq!(q["iss"], h.base);
    assert!(q["code"].len() >= 43);

    let mut q = q;
    q.insert("code_verifier".into(), verifier);
    let r = h.redeem("app", &q).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let tokens = json(r).await;
    assert_eq!(tokens["token_type"], "Bearer");
    let id = h
        .validate(
            "app",
            tokens["id_token"].as_str().unwrap(),
            Some("nonce-123"),
        )
        .await;
    assert_eq!(id.claims.sub.as_str(), "alice");
    assert!(id.claims.auth_time.is_some() && id.claims.sid.is_some());
    assert_eq!(
        id.claims.profile.email.as_deref(),
        Some("alice@example.com")
    );
    // at_hash matches the access token.
    assert!(sesame_core::verify_token_hash(
        id.header.alg,
        tokens["access_token"].as_str().unwrap(),
        id.claims.at_hash.as_deref().unwrap()
    ));
    // No offline_access asked: no refresh token.
    assert!(tokens.get("refresh_token").is_none());

    let info = json(h.userinfo(tokens["access_token"].as_str().unwrap()).await).await;
    assert_eq!(info["sub"], "alice");
    assert_eq!(info["email"], "alice@example.com");
    assert_eq!(info["name"], "User alice");
    assert!(info.get("groups").is_none(), "groups scope not granted");

    // The consent is remembered: the next login goes straight back.
    let q = h.code("app", "alice", &[]).await;
    assert!(q.contains_key("code"));
}

#[tokio::test]
async fn unknown_client_and_unregistered_redirect_uri_get_a_page_never_a_redirect() {
    let h = start().await;
    h.client("app", |_| {}).await;
    for (client, redirect) in [
        ("nobody", REDIRECT),
        ("app", "https://evil.example/callback"),
        ("app", "https://rp.example/callback/"),
        ("app", "https://rp.example/callback?x=1"),
    ] {
        let r = h
            .authorize(&[
                ("response_type", "code"),
                ("client_id", client),
                ("redirect_uri", redirect),
                ("scope", "openid"),
                ("state", "s"),
            ])
            .await;
        assert_eq!(r.status(), 400, "{client} {redirect}");
        assert!(location_opt(&r).is_none());
        let html = r.text().await.unwrap();
        assert!(html.contains("cannot be completed"));
    }
    // Missing redirect_uri, duplicated client_id: a page too.
    let r = h
        .authorize(&[
            ("response_type", "code"),
            ("client_id", "app"),
            ("scope", "openid"),
        ])
        .await;
    assert_eq!(r.status(), 400);
    let r = h
        .authorize(&[
            ("client_id", "app"),
            ("client_id", "other"),
            ("redirect_uri", REDIRECT),
        ])
        .await;
    assert_eq!(r.status(), 400);
    assert!(location_opt(&r).is_none());
}

async fn error_of(h: &Harness, params: &[(&str, &str)]) -> (String, String) {
    let r = h.authorize(params).await;
    let q = redirect_params(&r);
    assert_eq!(
        q.get("state").map(String::as_str),
        Some("s"),
        "state echoed on errors: {params:?} {q:?}"
    );
    assert_eq!(q["iss"], h.base);
    (
        q["error"].clone(),
        q.get("error_description").cloned().unwrap_or_default(),
    )
}

#[tokio::test]
async fn request_errors_redirect_with_the_spec_codes() {
    let h = start().await;
    h.client("app", |_| {}).await;
    h.client("public", |c| {
        c.token_endpoint_auth_method = sesame_op::AuthMethod::None
    })
    .await;
    let base = [
        ("client_id", "app"),
        ("redirect_uri", REDIRECT),
        ("state", "s"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v: Vec<(&str, &str)> = base.to_vec();
        v.extend_from_slice(extra);
        v
    };
    let ch = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let cases: Vec<(Vec<(&str, &str)>, ErrorCode)> = vec![
        (with(&[("scope", "openid")]), ErrorCode::InvalidRequest), // no response_type
        (
            with(&[("response_type", "token"), ("scope", "openid")]),
            ErrorCode::UnsupportedResponseType,
        ),
        (
            with(&[
                ("response_type", "id_token"),
                ("scope", "openid"),
                ("nonce", "n"),
            ]),
            ErrorCode::UnauthorizedClient,
        ),
        (
            with(&[
                ("response_type", "code"),
                ("scope", "profile"),
                ("code_challenge", ch),
                ("code_challenge_method", "S256"),
            ]),
            ErrorCode::InvalidScope,
        ),
        (
            with(&[("response_type", "code"), ("scope", "openid")]),
            ErrorCode::InvalidRequest,
        ), // PKCE required
        (
            with(&[
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", ch),
            ]),
            ErrorCode::InvalidRequest,
        ), // plain by default
        (
            with(&[
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", ch),
                ("code_challenge_method", "S512"),
            ]),
            ErrorCode::InvalidRequest,
        ),
        (
            with(&[
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", ch),
                ("code_challenge_method", "S256"),
                ("request", "eyJ.x.y"),
            ]),
            ErrorCode::InvalidRequestObject,
        ),
        (
            with(&[
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", ch),
                ("code_challenge_method", "S256"),
                ("prompt", "none login"),
            ]),
            ErrorCode::InvalidRequest,
        ),
        (
            with(&[
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", ch),
                ("code_challenge_method", "S256"),
                ("max_age", "-1"),
            ]),
            ErrorCode::InvalidRequest,
        ),
        (
            with(&[
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", ch),
                ("code_challenge_method", "S256"),
                ("claims", "[1]"),
            ]),
            ErrorCode::InvalidRequest,
        ),
        (
            with(&[
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", ch),
                ("code_challenge_method", "S256"),
                ("prompt", "none"),
            ]),
            ErrorCode::LoginRequired,
        ),
        (
            with(&[
                ("response_type", "code"),
                ("scope", "openid"),
                ("code_challenge", ch),
                ("code_challenge_method", "S256"),
                ("scope", "openid"),
            ]),
            ErrorCode::InvalidRequest,
        ), // duplicate
    ];
    for (params, want) in cases {
        let (got, description) = error_of(&h, &params).await;
        assert_eq!(got, want.as_str(), "{params:?}: {description}");
    }
    // PKCE is mandatory for a public client even when the client flag says otherwise.
    h.client("public2", |c| {
        c.token_endpoint_auth_method = sesame_op::AuthMethod::None;
        c.require_pkce = false;
    })
    .await;
    let (got, _) = error_of(
        &h,
        &[
            ("client_id", "public2"),
            ("redirect_uri", REDIRECT),
            ("state", "s"),
            ("response_type", "code"),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(got, "invalid_request");
}

#[tokio::test]
async fn prompt_none_without_consent_is_consent_required() {
    let h = start().await;
    h.client("app", |_| {}).await;
    // Log in once (consent page shown, not answered).
    let (_, params) = code_params("app");
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = h.authorize(&pairs).await;
    let r = h.login(r, "bob").await;
    assert_eq!(r.status(), 200);
    let mut none = pairs.clone();
    none.push(("prompt", "none"));
    let q = redirect_params(&h.authorize(&none).await);
    assert_eq!(q["error"], "consent_required");
    assert_eq!(q["state"], "st-123");
}

#[tokio::test]
async fn denied_consent_and_forged_consent_forms() {
    let h = start().await;
    h.client("app", |_| {}).await;
    let (_, params) = code_params("app");
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = h.login(h.authorize(&pairs).await, "carol").await;
    let q = redirect_params(&h.consent(r, false).await);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st-123");

    // A consent form with a wrong CSRF token is refused, and the interaction is spent.
    let r = h.authorize(&pairs).await;
    let html = r.text().await.unwrap();
    let interaction = hidden(&html, "interaction");
    let r = h
        .browser
        .post(h.url("/consent"))
        .form(&[
            ("interaction", interaction.as_str()),
            ("csrf_token", "forged"),
            ("allow", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(location_opt(&r).is_none());
    // A consent form posted from another browser (no session) is refused.
    let r = h.authorize(&pairs).await;
    let html = r.text().await.unwrap();
    let r = h
        .http
        .post(h.url("/consent"))
        .form(&[
            ("interaction", hidden(&html, "interaction").as_str()),
            ("csrf_token", hidden(&html, "csrf_token").as_str()),
            ("allow", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(location_opt(&r).is_none());
}

#[tokio::test]
async fn max_age_exceeded_forces_a_login_and_moves_auth_time() {
    let h = start().await;
    h.client("app", |c| c.skip_consent = true).await;
    let q = h.code("app", "dave", &[]).await;
    let first = json(h.redeem("app", &q).await).await;
    let first = h
        .validate(
            "app",
            first["id_token"].as_str().unwrap(),
            Some("nonce-123"),
        )
        .await;
    let t0 = first.claims.auth_time.unwrap();

    h.clock.advance(600);
    // Within max_age: no login.
    let q = h.code("app", "dave", &[("max_age", "3600")]).await;
    assert!(q.contains_key("code"));
    // Beyond max_age: sent to the login page, and auth_time moves.
    let (verifier, mut params) = code_params("app");
    params.push(("max_age".into(), "300".into()));
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = h.authorize(&pairs).await;
    assert!(
        location(&r).contains("/test-login"),
        "max_age forces a login"
    );
    let r = h.login(r, "dave").await;
    let mut q = redirect_params(&r);
    q.insert("code_verifier".into(), verifier);
    let tokens = json(h.redeem("app", &q).await).await;
    let id = h
        .validate(
            "app",
            tokens["id_token"].as_str().unwrap(),
            Some("nonce-123"),
        )
        .await;
    assert_eq!(id.claims.auth_time.unwrap(), t0 + 600);

    // prompt=login forces a login too, even with a fresh session.
    let (_, mut params) = code_params("app");
    params.push(("prompt".into(), "login".into()));
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = h.authorize(&pairs).await;
    assert!(location(&r).contains("/test-login"));
    // Coming back from that login does not loop.
    let r = h.login(r, "dave").await;
    assert!(redirect_params(&r).contains_key("code"));
}

#[tokio::test]
async fn form_post_and_fragment_response_modes() {
    let h = start().await;
    h.client("app", |c| {
        c.skip_consent = true;
        c.response_types = vec!["code".into(), "code id_token".into(), "id_token".into()];
    })
    .await;
    let (_, mut params) = code_params("app");
    params.push(("response_mode".into(), "form_post".into()));
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = h.login(h.authorize(&pairs).await, "erin").await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("form-action https://rp.example"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("method=\"post\" action=\"https:&#x2f;&#x2f;rp.example&#x2f;callback\""),
        "{html}"
    );
    assert!(html.contains("name=\"code\""));
    assert!(html.contains("name=\"state\" value=\"st-123\""));

    // Hybrid: fragment by default, with c_hash in the ID token.
    let (_, mut params) = code_params("app");
    params.retain(|(k, _)| k != "response_type");
    params.push(("response_type".into(), "code id_token".into()));
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = h.authorize(&pairs).await;
    let to = location(&r);
    let fragment = url::Url::parse(&to).unwrap().fragment().unwrap().to_owned();
    let f: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(fragment.as_bytes())
            .into_owned()
            .collect();
    let id = h.validate("app", &f["id_token"], Some("nonce-123")).await;
    assert!(sesame_core::verify_token_hash(
        id.header.alg,
        &f["code"],
        id.claims.c_hash.as_deref().unwrap()
    ));
    // query mode is refused for responses that carry tokens.
    let mut q = pairs.clone();
    q.push(("response_mode", "query"));
    let r = h.authorize(&q).await;
    let to = location(&r);
    assert!(to.contains("error=invalid_request"), "{to}");
    // Implicit without nonce is refused.
    let r = h
        .authorize(&[
            ("client_id", "app"),
            ("redirect_uri", REDIRECT),
            ("response_type", "id_token"),
            ("scope", "openid"),
            ("state", "s"),
        ])
        .await;
    assert!(location(&r).contains("error=invalid_request"));
}

#[tokio::test]
async fn max_age_zero_logs_in_once_and_does_not_loop() {
    let h = start().await;
    h.client("app", |c| c.skip_consent = true).await;
    h.code("app", "zed", &[]).await;
    h.clock.advance(5);
    let (_, mut params) = code_params("app");
    params.push(("max_age".into(), "0".into()));
    let pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = h.authorize(&pairs).await;
    assert!(location(&r).contains("/test-login"));
    // The login lands one second later: still accepted, no second login.
    let to = location(&r);
    let back = h
        .browser
        .get(format!("{to}&user=zed"))
        .send()
        .await
        .unwrap();
    h.clock.advance(1);
    let r = h.browser.get(location(&back)).send().await.unwrap();
    assert!(
        redirect_params(&r).contains_key("code"),
        "{:?}",
        location(&r)
    );
}

/// REVIEW S1/M2: the "login done at T" marker is server-side; an inbound
/// `sesame_auth_after` must not satisfy `prompt=login` or `max_age`.
#[tokio::test]
async fn an_inbound_auth_after_marker_does_not_skip_a_forced_login() {
    let h = start().await;
    h.client("app", |c| c.skip_consent = true).await;
    h.code("app", "mallory", &[]).await;
    h.clock.advance(5);
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let (_, mut params) = code_params("app");
        params.push((extra.0.into(), extra.1.into()));
        params.push(("sesame_auth_after".into(), "0".into()));
        params.push(("sesame_kind".into(), "logout".into()));
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = h.authorize(&pairs).await;
        assert!(
            location(&r).contains("/test-login"),
            "{extra:?} with sesame_auth_after=0 must still go to the login: {}",
            location(&r)
        );
    }
}

/// Reaches the login page (303 to the host's login), or the error code of the redirect back.
async fn outcome(h: &Harness, params: &[(&str, &str)]) -> Result<(), (String, String)> {
    let r = h.authorize(params).await;
    let to = location_opt(&r).unwrap_or_default();
    if to.contains("/test-login") {
        return Ok(());
    }
    let q = redirect_params(&r);
    Err((
        q.get("error").cloned().unwrap_or_default(),
        q.get("error_description").cloned().unwrap_or_default(),
    ))
}

#[tokio::test]
async fn pkce_policy_is_rfc_9700_pkce_or_a_nonce_and_stricter_by_switch() {
    let h = start().await;
    h.client("app", |_| {}).await;
    h.client("public", |c| {
        c.token_endpoint_auth_method = sesame_op::AuthMethod::None
    })
    .await;
    h.client("strict", |c| c.require_pkce = true).await;
    let request = |client: &'static str, nonce: bool| {
        let mut v = vec![
            ("client_id", client),
            ("redirect_uri", REDIRECT),
            ("state", "s"),
            ("response_type", "code"),
            ("scope", "openid"),
        ];
        if nonce {
            v.push(("nonce", "n-1"));
        }
        v
    };
    // A confidential client may send a nonce instead of PKCE (mozilla-django-oidc's default).
    outcome(&h, &request("app", true)).await.unwrap();
    // Neither defence: refused, and the message says what to send.
    let (code, why) = outcome(&h, &request("app", false)).await.unwrap_err();
    assert_eq!(code, "invalid_request");
    assert!(why.contains("PKCE") && why.contains("nonce"), "{why}");
    // Public clients, and clients registered with require_pkce, need PKCE even with a nonce.
    for client in ["public", "strict"] {
        let (code, why) = outcome(&h, &request(client, true)).await.unwrap_err();
        assert_eq!(code, "invalid_request", "{client}");
        assert!(why.contains("PKCE is required"), "{client}: {why}");
    }

    // The code of a nonce-only request redeems without a verifier, and
    // refuses one (a verifier for a code issued without a challenge).
    for (verifier, status) in [(None, 200), (Some("x".repeat(43)), 400)] {
        let (_, params) = code_params("app");
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .filter(|(k, _)| !k.starts_with("code_challenge"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut r = h.authorize(&pairs).await;
        if location_opt(&r).is_some_and(|l| l.contains("/test-login")) {
            r = h.login(r, "alice").await;
        }
        if r.status() == 200 {
            r = h.consent(r, true).await;
        }
        let q = redirect_params(&r);
        assert!(q.contains_key("code"), "{q:?}");
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", q["code"].clone()),
            ("redirect_uri", REDIRECT.to_owned()),
        ];
        if let Some(v) = &verifier {
            form.push(("code_verifier", v.clone()));
        }
        let r = h
            .http
            .post(h.url("/token"))
            .basic_auth("app", Some(SECRET))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "verifier {verifier:?}");
        if status == 400 {
            assert_eq!(json(r).await["error"], "invalid_grant");
        }
    }

    // A provider that requires PKCE (OAuth 2.1) refuses the nonce-only request too.
    let strict = start_with(|b| {
        let mut s = sesame_op::Settings::default();
        s.require_pkce = true;
        b.with_settings(s)
    })
    .await;
    strict.client("app", |_| {}).await;
    let (code, why) = outcome(&strict, &request("app", true)).await.unwrap_err();
    assert_eq!(code, "invalid_request");
    assert!(why.contains("PKCE is required"), "{why}");
}

/// OIDC Core §5.5: a claim asked for by name with the `claims` parameter is
/// shown on the consent page and, once consented, released to userinfo and
/// the ID token even though no granted scope releases it; a claim the
/// provider does not know is ignored; a remembered consent covers the
/// claims it listed, and a new claim asks again.
#[tokio::test]
async fn the_claims_parameter_releases_consented_claims_one_by_one() {
    let h = start().await;
    h.client("app", |_| {}).await;
    let claims = r#"{"userinfo":{"name":{"essential":true},"favourite_colour":null},"id_token":{"email":null}}"#;
    let (verifier, params) = code_params("app");
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| k != "scope")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.push(("scope", "openid"));
    pairs.push(("claims", claims));
    let r = h.authorize(&pairs).await;
    let r = h.login(r, "cleo").await;
    assert_eq!(r.status(), 200, "the consent page");
    let html = r.text().await.unwrap();
    assert!(html.contains("See your name"), "{html}");
    assert!(html.contains("See your email address"), "{html}");
    assert!(
        !html.contains("favourite_colour"),
        "unknown claims are ignored"
    );
    let interaction = hidden(&html, "interaction");
    let csrf = hidden(&html, "csrf_token");
    let r = h
        .browser
        .post(h.url("/consent"))
        .form(&[
            ("interaction", interaction.as_str()),
            ("csrf_token", csrf.as_str()),
            ("allow", "1"),
        ])
        .send()
        .await
        .unwrap();
    let mut q = redirect_params(&r);
    q.insert("code_verifier".into(), verifier);
    let tokens = json(h.redeem("app", &q).await).await;
    let info = json(h.userinfo(tokens["access_token"].as_str().unwrap()).await).await;
    // Each claim where it was asked for: name at userinfo, email in the ID token.
    assert_eq!(info["name"], "User cleo", "{info}");
    assert!(info.get("email").is_none(), "{info}");
    assert!(info.get("groups").is_none() && info.get("favourite_colour").is_none());
    let id = h
        .validate(
            "app",
            tokens["id_token"].as_str().unwrap(),
            Some("nonce-123"),
        )
        .await;
    assert_eq!(id.claims.profile.email.as_deref(), Some("cleo@example.com"));
    assert!(
        id.claims.profile.name.is_none(),
        "name was asked for userinfo only"
    );

    // The same request again: the consent covers it, straight back to the client.
    let (_, params) = code_params("app");
    let mut again: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| k != "scope")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    again.push(("scope", "openid"));
    again.push(("claims", claims));
    let r = h.authorize(&again).await;
    assert!(
        redirect_params(&r).contains_key("code"),
        "no second consent page"
    );
    // A claim not consented to yet: the consent page again.
    again.retain(|(k, _)| *k != "claims");
    again.push(("claims", r#"{"userinfo":{"groups":null}}"#));
    let r = h.authorize(&again).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("the groups you belong to"));
}
