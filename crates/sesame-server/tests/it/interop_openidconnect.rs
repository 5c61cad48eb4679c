//! Interop: the `openidconnect` crate (v4, a third-party Rust relying party) against the real
//! `sesame serve` binary. Discovery, authorization code flow with PKCE (S256) — the login and
//! consent forms are driven with reqwest —, ID-token verification by the crate (signature with a
//! key from the JWKS, iss, aud, exp, nonce, at_hash) for RS256, ES256 and EdDSA, userinfo, refresh
//! and revocation, with client_secret_basic and client_secret_post.
//!
//! The crate is used without its default features; its HTTP requests go through the adapter
//! below over our own reqwest client (redirects off), so no second HTTP stack is built.
//!
//! The crate (oauth2 5) refuses a revocation endpoint that is not `https` (RFC 7009 §2), while
//! the server here listens on plain http on 127.0.0.1. So the revocation URL is given to the crate
//! as `https://127.0.0.1:PORT/…` and the adapter forwards it over http to the same address: it
//! plays the TLS terminator that a deployment puts in front of `sesame serve`.

use std::time::Duration;

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreIdTokenClaims, CoreProviderMetadata,
    CoreRevocableToken, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EmptyAdditionalClaims, HttpRequest, HttpResponse, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, RevocationUrl, Scope, TokenResponse,
};

use crate::support::*;

/// openidconnect's HTTP client interface over reqwest 0.13.
#[derive(Clone)]
struct Http {
    client: reqwest::Client,
    /// `https://127.0.0.1:PORT` → `http://127.0.0.1:PORT` (the "TLS terminator").
    terminated: (String, String),
}

impl Http {
    fn new(http_origin: &str) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            terminated: (
                http_origin.replacen("http://", "https://", 1),
                http_origin.to_owned(),
            ),
        }
    }

    async fn call(&self, mut request: HttpRequest) -> Result<HttpResponse, reqwest::Error> {
        let uri = request.uri().to_string();
        if let Some(rest) = uri.strip_prefix(&self.terminated.0) {
            *request.uri_mut() = format!("{}{rest}", self.terminated.1).parse().unwrap();
        }
        let response = self
            .client
            .execute(reqwest::Request::try_from(request)?)
            .await?;
        let mut out = http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            out = out.header(name, value);
        }
        let body = response.bytes().await?.to_vec();
        Ok(out.body(body).unwrap())
    }
}

/// `sesame ARGS…` that must succeed; returns stdout.
fn sesame_ok(args: &[&str]) -> String {
    let (code, out, err) = sesame(args);
    assert_eq!(code, 0, "sesame {args:?}: {err}");
    out
}

struct Registered {
    id: String,
    secret: String,
}

fn add_client(db: &str, name: &str, redirect: &str, alg: &str, method: &str) -> Registered {
    let out = sesame_ok(&[
        "--database",
        db,
        "clients",
        "add",
        "--name",
        name,
        "--redirect-uri",
        redirect,
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
        "--auth-method",
        method,
        "--id-token-alg",
        alg,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    Registered {
        id: v["client_id"].as_str().unwrap().to_owned(),
        secret: v["client_secret"].as_str().unwrap().to_owned(),
    }
}

/// Drives the browser part of the flow: authorize → login form → consent (allow) → the
/// redirect to `redirect` (not requested). Returns that callback URL.
async fn sign_in(
    b: &reqwest::Client,
    issuer: &str,
    authorize: &str,
    redirect: &str,
    password: &str,
) -> url::Url {
    let r = b.get(authorize).send().await.unwrap();
    let login = absolute(issuer, &location(&r));
    assert!(login.starts_with(&format!("{issuer}/login?")), "{login}");
    let r = submit_login(b, &login, issuer, "interop", password).await;
    assert_eq!(r.status(), 303, "login refused");
    let back = absolute(issuer, &location(&r));
    let r = b.get(&back).send().await.unwrap();
    // Third-party client: the consent page (with offline_access on it).
    assert_eq!(r.status(), 200, "expected the consent page");
    let html = r.text().await.unwrap();
    assert!(html.contains("name=\"allow\""), "{html}");
    let r = b
        .post(format!("{issuer}/consent"))
        .form(&[
            ("interaction", hidden(&html, "interaction")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("allow", "1".into()),
        ])
        .send()
        .await
        .unwrap();
    let callback = location(&r);
    assert!(callback.starts_with(&format!("{redirect}?")), "{callback}");
    url::Url::parse(&callback).unwrap()
}

fn param(u: &url::Url, name: &str) -> Option<String> {
    u.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn openidconnect_crate_code_flow_pkce_id_token_userinfo_refresh_revoke() {
    let dir = TempDir::new();
    let db = dir.db();
    let password = format!("pw-{}", sesame_core::random::token().unwrap());
    sesame_ok(&[
        "--database",
        &db,
        "users",
        "add",
        "--username",
        "interop",
        "--password",
        &password,
        "--email",
        "interop@example.com",
        "--name",
        "Interop User",
    ]);
    let redirect = format!("http://127.0.0.1:{}/cb", free_port());
    // One client per ID-token algorithm; the last one authenticates in the request body.
    let cases = [
        ("RS256", "client_secret_basic"),
        ("ES256", "client_secret_basic"),
        ("EdDSA", "client_secret_basic"),
        ("RS256", "client_secret_post"),
    ];
    let clients: Vec<_> = cases
        .iter()
        .map(|(alg, method)| {
            add_client(
                &db,
                &format!("openidconnect {alg} {method}"),
                &redirect,
                alg,
                method,
            )
        })
        .collect();

    let (_serve, issuer) = Running::serve(&db, &[("SESAME_LOG_LEVEL", "warn")]).await;

    let http = Http::new(&issuer);
    let call = |req: HttpRequest| {
        let http = http.clone();
        async move { http.call(req).await }
    };

    // Discovery, parsed and checked by the crate (issuer must equal the URL it asked).
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone()).unwrap(), &call)
            .await
            .unwrap_or_else(|e| panic!("openidconnect rejected the discovery document: {e:?}"));
    let raw: serde_json::Value = reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let revocation_endpoint = raw["revocation_endpoint"].as_str().unwrap();
    assert!(revocation_endpoint.starts_with(&issuer));
    let revocation =
        RevocationUrl::new(revocation_endpoint.replacen("http://", "https://", 1)).unwrap();

    for ((alg, method), registered) in cases.iter().zip(&clients) {
        let what = format!("{alg} {method}");
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(registered.id.clone()),
            Some(ClientSecret::new(registered.secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::new(redirect.clone()).unwrap())
        .set_revocation_url(revocation.clone())
        .set_auth_type(if *method == "client_secret_post" {
            AuthType::RequestBody
        } else {
            AuthType::BasicAuth
        });

        // Authorization request with PKCE S256, state and nonce.
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (authorize, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("offline_access".into()))
            .set_pkce_challenge(challenge)
            .url();
        let browser = browser();
        let callback = sign_in(&browser, &issuer, authorize.as_str(), &redirect, &password).await;
        assert_eq!(
            param(&callback, "state").as_deref(),
            Some(state.secret().as_str()),
            "{what}"
        );
        assert_eq!(
            param(&callback, "iss").as_deref(),
            Some(issuer.as_str()),
            "{what}: RFC 9207 iss"
        );
        let code = AuthorizationCode::new(param(&callback, "code").unwrap());

        // Token request; the ID token verified by the crate.
        let tokens = client
            .exchange_code(code)
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&call)
            .await
            .unwrap_or_else(|e| panic!("{what}: token request: {e:?}"));
        let id_token = tokens.id_token().expect("no id_token");
        let verifier = client.id_token_verifier();
        let claims: &CoreIdTokenClaims = id_token
            .claims(&verifier, &nonce)
            .unwrap_or_else(|e| panic!("{what}: openidconnect rejected the ID token: {e:?}"));
        assert_eq!(claims.issuer().as_str(), issuer, "{what}");
        assert_eq!(
            serde_json::to_value(id_token.signing_alg().unwrap()).unwrap(),
            *alg,
            "{what}: signing alg"
        );
        // The crate does verify: a wrong nonce is refused.
        assert!(
            id_token
                .claims(&verifier, &Nonce::new("not-the-nonce".into()))
                .is_err(),
            "{what}"
        );
        if let Some(expected) = claims.access_token_hash() {
            let actual = AccessTokenHash::from_token(
                tokens.access_token(),
                id_token.signing_alg().unwrap(),
                id_token.signing_key(&verifier).unwrap(),
            )
            .unwrap();
            assert_eq!(&actual, expected, "{what}: at_hash");
        }
        let sub = claims.subject().clone();

        // UserInfo, with the subject checked by the crate.
        let info: CoreUserInfoClaims = client
            .user_info(tokens.access_token().clone(), Some(sub.clone()))
            .unwrap()
            .request_async::<EmptyAdditionalClaims, _, CoreGenderClaim>(&call)
            .await
            .unwrap_or_else(|e| panic!("{what}: userinfo: {e:?}"));
        assert_eq!(
            info.preferred_username().map(|u| u.as_str()),
            Some("interop"),
            "{what}"
        );
        assert_eq!(
            info.email().map(|e| e.as_str()),
            Some("interop@example.com"),
            "{what}"
        );

        // Refresh (rotation), the refreshed ID token verified too.
        let refresh = tokens
            .refresh_token()
            .unwrap_or_else(|| panic!("{what}: no refresh token"))
            .clone();
        let refreshed = client
            .exchange_refresh_token(&refresh)
            .unwrap()
            .request_async(&call)
            .await
            .unwrap_or_else(|e| panic!("{what}: refresh: {e:?}"));
        assert_ne!(
            refreshed.access_token().secret(),
            tokens.access_token().secret()
        );
        let rotated = refreshed
            .refresh_token()
            .expect("refresh token not rotated");
        assert_ne!(rotated.secret(), refresh.secret(), "{what}");
        if let Some(id) = refreshed.id_token() {
            let c = id
                .claims(&verifier, |_: Option<&Nonce>| Ok(()))
                .unwrap_or_else(|e| panic!("{what}: refreshed ID token: {e:?}"));
            assert_eq!(c.subject(), &sub, "{what}");
        }

        // Revocation of the refresh token: it no longer refreshes.
        client
            .revoke_token(CoreRevocableToken::from(rotated.clone()))
            .unwrap()
            .request_async(&call)
            .await
            .unwrap_or_else(|e| panic!("{what}: revocation: {e:?}"));
        let again = client
            .exchange_refresh_token(rotated)
            .unwrap()
            .request_async(&call)
            .await;
        assert!(
            again.is_err(),
            "{what}: a revoked refresh token was accepted"
        );
        // Revocation of the access token: UserInfo refuses it.
        client
            .revoke_token(CoreRevocableToken::from(refreshed.access_token().clone()))
            .unwrap()
            .request_async(&call)
            .await
            .unwrap_or_else(|e| panic!("{what}: revocation: {e:?}"));
        let denied = client
            .user_info(refreshed.access_token().clone(), Some(sub.clone()))
            .unwrap()
            .request_async::<EmptyAdditionalClaims, _, CoreGenderClaim>(&call)
            .await;
        assert!(denied.is_err(), "{what}: a revoked access token works");
    }
}
