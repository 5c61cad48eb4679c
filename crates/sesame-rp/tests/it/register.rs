//! Dynamic client registration against sesame-op.

use sesame_core::{Issuer, JwkSet, JwsAlgorithm, RedirectUri, SigningKey};
use sesame_op::Registration;
use sesame_rp::{
    ClientAuth, ClientRegistration, OidcClient, RegistrationError, RegistrationRequest,
};

use crate::support::*;

async fn open_op() -> Op {
    start_op_with(|s| s.registration = Registration::Open).await
}

fn issuer(op: &Op) -> Issuer {
    Issuer::new(op.base.clone()).unwrap()
}

fn redirect(rp: &str) -> RedirectUri {
    RedirectUri::new(format!("{rp}/callback")).unwrap()
}

#[tokio::test]
async fn a_registered_client_is_kept_and_signs_users_in() {
    let op = open_op().await;
    let (listener, rp) = rp_listener().await;
    let request = RegistrationRequest::new([redirect(&rp)])
        .with_client_name("Registered app")
        .with_post_logout_redirect_uris([RedirectUri::new(format!("{rp}/")).unwrap()])
        .with_backchannel_logout_uri(format!("{rp}/backchannel-logout"))
        .with_scope("openid email");
    let registration = OidcClient::register(&issuer(&op), request).await.unwrap();
    assert!(!registration.client_id.is_empty());
    assert!(registration.client_secret.is_some());
    assert!(registration.registration_access_token.is_some());
    assert_eq!(
        registration.registration_client_uri.as_deref(),
        Some(format!("{}/register/{}", op.base, registration.client_id).as_str())
    );
    assert_eq!(
        registration.auth_method(),
        Some(ClientAuth::ClientSecretBasic)
    );
    assert_eq!(registration.metadata["client_name"], "Registered app");
    assert!(!registration.secret_expired(i64::MAX));
    // The app keeps it (here: as JSON) and the secrets are not in Debug.
    let secret = registration
        .client_secret
        .as_ref()
        .unwrap()
        .secret()
        .to_owned();
    assert!(!format!("{registration:?}").contains(&secret));
    let kept = serde_json::to_string(&registration).unwrap();
    assert!(kept.contains(&secret), "the stored form keeps the secret");
    let restored: ClientRegistration = serde_json::from_str(&kept).unwrap();

    // Next start: build from the stored registration and sign in (consent shown:
    // openly registered clients are third-party).
    let oidc = OidcClient::builder(issuer(&op), restored.client_id.clone())
        .with_registration(&restored)
        .with_redirect_uri(redirect(&rp))
        .with_scopes("openid email")
        .unwrap()
        .build()
        .await
        .unwrap();
    rp_app(oidc, listener).await;
    let b = browser();
    let (status, body, seen) = follow_forms(&b, &format!("{rp}/account"), "henry").await;
    assert_eq!((status, body.as_str()), (200, "hello henry"), "{seen:?}");
    assert!(
        seen.iter()
            .any(|u| u.starts_with(&format!("POST {}/consent", op.base))),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_private_key_jwt_client_registers_its_keys() {
    let op = open_op().await;
    let (listener, rp) = rp_listener().await;
    let key = SigningKey::generate(JwsAlgorithm::ES256).unwrap();
    let jwks = JwkSet {
        keys: vec![key.public_jwk().unwrap()],
    };
    let registration = OidcClient::register(
        &issuer(&op),
        RegistrationRequest::new([redirect(&rp)])
            .with_auth_method(ClientAuth::PrivateKeyJwt)
            .with_jwks(&jwks),
    )
    .await
    .unwrap();
    assert_eq!(registration.auth_method(), Some(ClientAuth::PrivateKeyJwt));
    assert!(registration.client_secret.is_none());
    // sesame-rp's assertions name the endpoint they are sent to; sesame-op
    // takes that only from a client with the operator's legacy switch (S15).
    let id = sesame_core::ClientId::new(registration.client_id.clone());
    let mut stored = op.store.find_client(&id).await.unwrap().unwrap();
    stored.legacy_assertion_audience = true;
    op.store.save_client(&stored).await.unwrap();
    let oidc = OidcClient::builder(issuer(&op), registration.client_id.clone())
        .with_registration(&registration)
        .with_private_key(key)
        .with_redirect_uri(redirect(&rp))
        .build()
        .await
        .unwrap();
    rp_app(oidc, listener).await;
    let (status, body, _) = follow_forms(&browser(), &format!("{rp}/account"), "iris").await;
    assert_eq!((status, body.as_str()), (200, "hello iris"));
}

#[tokio::test]
async fn registration_errors_are_clear() {
    // Registration off (the provider's default): no registration_endpoint.
    let closed = start_op().await;
    let err = OidcClient::register(
        &issuer(&closed),
        RegistrationRequest::new([redirect("http://127.0.0.1:1")]),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RegistrationError::NotSupported), "{err}");
    assert!(
        err.to_string()
            .contains("does not offer dynamic client registration")
    );

    // Invalid metadata: the provider's error code and description come through.
    let op = open_op().await;
    let err = OidcClient::register(
        &issuer(&op),
        RegistrationRequest::new([RedirectUri::new("http://app.example/callback").unwrap()]),
    )
    .await
    .unwrap_err();
    let RegistrationError::Refused {
        status,
        error,
        description,
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!(
        (*status, error.as_str()),
        (400, "invalid_redirect_uri"),
        "{err}"
    );
    assert!(
        description.as_deref().unwrap().contains("loopback"),
        "{err}"
    );
    let err = OidcClient::register(
        &issuer(&op),
        RegistrationRequest::new([redirect("http://127.0.0.1:1")])
            .with_metadata("grant_types", serde_json::json!(["implicit"])),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, RegistrationError::Refused { error, .. } if error == "invalid_client_metadata"),
        "{err}"
    );
    assert!(
        err.to_string().contains("invalid_client_metadata: "),
        "{err}"
    );

    // An initial access token is required and checked.
    let token = "initial-access-token-0123456789abcdefghijklmnop";
    let guarded = start_op_with(|s| {
        s.registration =
            Registration::InitialAccessToken(vec![sesame_op::secrets::hash_generated_secret(token)])
    })
    .await;
    let request = || RegistrationRequest::new([redirect("http://127.0.0.1:1")]);
    let err = OidcClient::register(&issuer(&guarded), request())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RegistrationError::Refused { status: 401, .. }),
        "{err}"
    );
    let err = OidcClient::register(
        &issuer(&guarded),
        request().with_initial_access_token("wrong-token"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, RegistrationError::Refused { status: 401, .. }),
        "{err}"
    );
    OidcClient::register(
        &issuer(&guarded),
        request().with_initial_access_token(token),
    )
    .await
    .unwrap();

    // A registration made at another issuer is not used.
    let elsewhere = OidcClient::register(&issuer(&op), request()).await.unwrap();
    let err = OidcClient::builder(issuer(&guarded), elsewhere.client_id.clone())
        .with_registration(&elsewhere)
        .with_redirect_uri(redirect("http://127.0.0.1:1"))
        .build()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("registration was made at"),
        "{err}"
    );
}
