//! Two provider instances on one PostgreSQL database behave as one provider.

use std::sync::Arc;

use async_trait::async_trait;
use http::request::Parts;
use sesame_core::{
    ClientId, Clock, CodeVerifier, Expected, IdTokenValidator, Issuer, JwkSet, JwsAlgorithm,
    KeySet, Nonce, PkceMethod, RedirectUri, SessionId, Subject, SystemClock,
};
use sesame_op::store::ClientStore;
use sesame_op::{
    Authenticator, AuthnError, Client, EndUser, LoginRequest, Provider, Settings, secrets,
};
use sesame_op_sqlx::{EncryptionKey, SqlStore};

use crate::support::*;

/// Trusts an `x-test-user` header: test-only.
struct HeaderLogin;

#[async_trait]
impl Authenticator for HeaderLogin {
    async fn current_user(&self, parts: &Parts) -> Result<Option<EndUser>, AuthnError> {
        Ok(parts
            .headers
            .get("x-test-user")
            .and_then(|v| v.to_str().ok())
            .map(|u| EndUser {
                subject: Subject::new(u),
                auth_time: SystemClock.now(),
                session_id: SessionId::new("s1"),
                acr: None,
                amr: None,
            }))
    }

    fn login_url(&self, _: &LoginRequest) -> String {
        "/login".into()
    }
}

async fn instance(
    url: &str,
    key: &EncryptionKey,
    issuer: &str,
    listener: tokio::net::TcpListener,
) -> Provider {
    let store = SqlStore::connect(url, key.clone()).await.unwrap();
    let mut settings = Settings::default();
    settings.key_reload_interval = 0;
    settings.key_publish_delay = 0;
    let provider = Provider::builder(Issuer::new(issuer).unwrap())
        .with_store(Arc::new(store))
        .with_authenticator(HeaderLogin)
        .with_settings(settings)
        .build()
        .await
        .unwrap();
    let app = provider.router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    provider
}

#[tokio::test]
async fn a_code_minted_on_one_instance_is_redeemed_on_another() {
    let Some(base) = pg_url("a_code_minted_on_one_instance_is_redeemed_on_another") else {
        return;
    };
    let url = fresh_schema(&base).await;
    let key = EncryptionKey::generate().unwrap();
    let la = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lb = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (a_url, b_url) = (
        format!("http://{}", la.local_addr().unwrap()),
        format!("http://{}", lb.local_addr().unwrap()),
    );
    // One issuer (as behind a load balancer), two instances.
    let issuer = a_url.clone();
    let a = instance(&url, &key, &issuer, la).await;
    let _b = instance(&url, &key, &issuer, lb).await;

    let store = SqlStore::connect(&url, key.clone()).await.unwrap();
    let mut client = Client::new(
        ClientId::new("app"),
        vec![RedirectUri::new("https://rp.example/cb").unwrap()],
        SystemClock.now(),
    );
    client.client_secret_hash = Some(secrets::hash_generated_secret("s3cret-s3cret-s3cret"));
    client.skip_consent = true;
    store.save_client(&client).await.unwrap();

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let verifier = CodeVerifier::random().unwrap();
    let challenge = verifier.challenge(PkceMethod::S256);
    let r = http
        .get(format!("{a_url}/authorize"))
        .header("x-test-user", "alice")
        .query(&[
            ("response_type", "code"),
            ("client_id", "app"),
            ("redirect_uri", "https://rp.example/cb"),
            ("scope", "openid"),
            ("nonce", "n1"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let code: String = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();

    let tokens: serde_json::Value = http
        .post(format!("{b_url}/token"))
        .basic_auth("app", Some("s3cret-s3cret-s3cret"))
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
    let id_token = tokens["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{tokens}"));
    // Validated with B's JWKS: both instances publish the same keys.
    let jwks_b = KeySet::from_jwks(
        &JwkSet::from_json(
            &http
                .get(format!("{b_url}/jwks"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap(),
    );
    let nonce = Nonce::new("n1");
    IdTokenValidator::new(Issuer::new(issuer.clone()).unwrap(), ClientId::new("app"))
        .validate(
            id_token,
            &jwks_b,
            SystemClock.now(),
            &Expected {
                nonce: Some(&nonce),
                ..Expected::default()
            },
        )
        .unwrap();
    // The access token works at A's userinfo, and a replay at A is refused.
    let info = http
        .get(format!("{a_url}/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    let replay = http
        .post(format!("{a_url}/token"))
        .basic_auth("app", Some("s3cret-s3cret-s3cret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://rp.example/cb"),
            ("code_verifier", verifier.secret()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 400);

    // A key rotated on A is published by B.
    let before = JwkSet::from_json(
        &http
            .get(format!("{b_url}/jwks"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    a.rotate_keys(JwsAlgorithm::RS256).await.unwrap();
    let after = JwkSet::from_json(
        &http
            .get(format!("{b_url}/jwks"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        after.keys.len(),
        before.keys.len() + 1,
        "B publishes A's new next key"
    );
    let new_kids: Vec<_> = after
        .keys
        .iter()
        .filter(|k| !before.keys.contains(k))
        .collect();
    assert_eq!(new_kids.len(), 1);
    store.close().await;
    drop_schema(&base, &url).await;
}
