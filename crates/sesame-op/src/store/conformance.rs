//! The storage conformance suite: every backend runs it against itself.
//!
//! ```text
//! #[tokio::test]
//! async fn my_store_conforms() {
//!     sesame_op::store::conformance::run(std::sync::Arc::new(MyStore::connect().await)).await;
//! }
//! ```
//!
//! It panics with a description of the first broken contract. Every record
//! it writes has random ids, so it can run repeatedly on a shared database.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use sesame_core::{
    ClientId, JwsAlgorithm, Nonce, RedirectUri, Scopes, SessionId, Subject, UnixTime,
};

use super::Store;
use crate::model::{
    AccessTokenRecord, Client, CodeRecord, CodeUse, Grant, RefreshTokenRecord, RefreshUse,
};

mod device;
mod keys;
mod redeem;
mod sessions;

const NOW: UnixTime = 1_900_000_000;

fn id(prefix: &str) -> String {
    format!("{prefix}-{}", sesame_core::random::token().unwrap())
}

fn grant(client: &str, sid: Option<&str>) -> Grant {
    Grant {
        grant_id: id("grant"),
        client_id: ClientId::new(client),
        subject: Some(Subject::new("alice")),
        scopes: Scopes::parse("openid email").unwrap(),
        auth_time: Some(NOW - 5),
        sid: sid.map(SessionId::new),
        acr: None,
        amr: Some(vec!["pwd".into()]),
        claims_request: Some(serde_json::json!({"userinfo": {"email": null}})),
        claims: vec!["name".into()],
        jkt: None,
        resources: vec!["https://api.example".into()],
        created_at: NOW - 5,
    }
}

fn code(grant: Grant, expires_at: UnixTime) -> CodeRecord {
    CodeRecord {
        grant,
        redirect_uri: RedirectUri::new("https://rp.example/cb").unwrap(),
        nonce: Some(Nonce::new("n")),
        pkce: None,
        expires_at,
    }
}

/// Runs every check against `store`.
pub async fn run(store: Arc<dyn Store>) {
    clients(&*store).await;
    codes_are_single_use(&*store).await;
    concurrent_code_use_has_one_winner(Arc::clone(&store)).await;
    redeem::redeeming_a_code_saves_its_tokens_once(&*store).await;
    redeem::concurrent_redemptions_have_one_winner(Arc::clone(&store)).await;
    access_tokens(&*store).await;
    refresh_tokens_rotate_once(&*store).await;
    concurrent_refresh_use_has_one_winner(Arc::clone(&store)).await;
    revoking_a_grant_revokes_everything(&*store).await;
    sessions::sessions_and_jtis(&*store).await;
    sessions::consents(&*store).await;
    keys::keys(&*store).await;
    keys::concurrent_key_creation_has_one_winner(Arc::clone(&store)).await;
    sessions::interactions(&*store).await;
    sessions::sweep(&*store).await;
    sessions::session_clients_outlive_their_tokens(&*store).await;
    device::device_authorizations(&*store).await;
    device::concurrent_device_updates_have_one_winner(Arc::clone(&store)).await;
    device::device_sweep(&*store).await;
}

async fn clients(store: &dyn Store) {
    let cid = id("client");
    let mut c = Client::new(
        ClientId::new(&cid),
        vec![RedirectUri::new("https://rp.example/cb").unwrap()],
        NOW,
    );
    c.client_name = Some("Zoë's app \u{1F600}".into());
    assert!(
        store.find_client(&c.client_id).await.unwrap().is_none(),
        "unknown client is None"
    );
    store.save_client(&c).await.unwrap();
    assert_eq!(
        store.find_client(&c.client_id).await.unwrap(),
        Some(c.clone()),
        "client round-trips"
    );
    c.skip_consent = true;
    // What dynamic registration adds: a client_secret_jwt key, a registration
    // access token hash, a pinned assertion algorithm, a native application.
    c.token_endpoint_auth_method = crate::model::AuthMethod::ClientSecretJwt;
    c.client_secret_jwt_key = Some(sesame_core::ClientSecret::new(id("secret")));
    c.registration_access_token_hash = Some(crate::secrets::hash_generated_secret("rat"));
    c.token_endpoint_auth_signing_alg = Some(JwsAlgorithm::HS512);
    c.application_type = crate::model::ApplicationType::Native;
    store.save_client(&c).await.unwrap();
    assert_eq!(
        store.find_client(&c.client_id).await.unwrap(),
        Some(c.clone()),
        "save replaces"
    );
    assert!(
        store
            .list_clients()
            .await
            .unwrap()
            .iter()
            .any(|x| x.client_id == c.client_id)
    );
    assert!(store.delete_client(&c.client_id).await.unwrap());
    assert!(
        !store.delete_client(&c.client_id).await.unwrap(),
        "second delete finds nothing"
    );
    assert!(store.find_client(&c.client_id).await.unwrap().is_none());
}

async fn codes_are_single_use(store: &dyn Store) {
    let key = id("code");
    let record = code(grant("c", None), NOW + 60);
    store.save_code(&key, &record).await.unwrap();
    let peeked = store.find_code(&key, NOW).await.unwrap();
    assert_eq!(
        peeked.as_ref(),
        Some(&record),
        "find_code reads a live code"
    );
    match store.consume_code(&key, NOW).await.unwrap() {
        Some(CodeUse::First(r)) => assert_eq!(*r, record, "find_code did not consume it"),
        other => panic!("first use must return the code, got {other:?}"),
    }
    match store.consume_code(&key, NOW).await.unwrap() {
        Some(CodeUse::Replayed { grant_id }) => assert_eq!(grant_id, record.grant.grant_id),
        other => panic!("second use must be a replay, got {other:?}"),
    }
    assert!(
        store.find_code(&key, NOW).await.unwrap().is_none(),
        "not once used"
    );
    let expired = id("code");
    store
        .save_code(&expired, &code(grant("c", None), NOW - 1))
        .await
        .unwrap();
    assert!(
        store.consume_code(&expired, NOW).await.unwrap().is_none(),
        "expired code is None"
    );
    assert!(
        store
            .consume_code(&id("code"), NOW)
            .await
            .unwrap()
            .is_none(),
        "unknown code is None"
    );
}

async fn concurrent_code_use_has_one_winner(store: Arc<dyn Store>) {
    let key = id("code");
    store
        .save_code(&key, &code(grant("c", None), NOW + 60))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            store.consume_code(&key, NOW).await.unwrap()
        }));
    }
    let mut firsts = 0;
    for t in tasks {
        if let Some(CodeUse::First(_)) = t.await.unwrap() {
            firsts += 1;
        }
    }
    assert_eq!(firsts, 1, "exactly one concurrent consumer wins a code");
}

async fn access_tokens(store: &dyn Store) {
    let key = id("at");
    let record = AccessTokenRecord {
        grant: grant("c", None),
        issued_at: NOW,
        expires_at: NOW + 60,
    };
    store.save_access_token(&key, &record).await.unwrap();
    assert_eq!(
        store.find_access_token(&key, NOW).await.unwrap(),
        Some(record.clone())
    );
    assert!(
        store
            .find_access_token(&key, NOW + 60)
            .await
            .unwrap()
            .is_none(),
        "expired at exp"
    );
    assert!(store.revoke_access_token(&key).await.unwrap());
    assert!(
        store.find_access_token(&key, NOW).await.unwrap().is_none(),
        "revoked"
    );
    assert!(!store.revoke_access_token(&key).await.unwrap());
}

async fn refresh_tokens_rotate_once(store: &dyn Store) {
    let key = id("rt");
    let record = RefreshTokenRecord {
        grant: grant("c", None),
        issued_at: NOW,
        expires_at: NOW + 600,
    };
    store.save_refresh_token(&key, &record).await.unwrap();
    assert_eq!(
        store.find_refresh_token(&key, NOW).await.unwrap(),
        Some(record.clone())
    );
    match store.use_refresh_token(&key, NOW).await.unwrap() {
        Some(RefreshUse::First(r)) => assert_eq!(*r, record),
        other => panic!("first use must return the token, got {other:?}"),
    }
    assert!(
        store.find_refresh_token(&key, NOW).await.unwrap().is_none(),
        "a used token is not live"
    );
    match store.use_refresh_token(&key, NOW).await.unwrap() {
        Some(RefreshUse::Reused { grant_id }) => assert_eq!(grant_id, record.grant.grant_id),
        other => panic!("second use must be reuse, got {other:?}"),
    }
    let expired = id("rt");
    store
        .save_refresh_token(
            &expired,
            &RefreshTokenRecord {
                grant: grant("c", None),
                issued_at: NOW,
                expires_at: NOW,
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .use_refresh_token(&expired, NOW)
            .await
            .unwrap()
            .is_none(),
        "expired refresh token"
    );
}

async fn concurrent_refresh_use_has_one_winner(store: Arc<dyn Store>) {
    let key = id("rt");
    let record = RefreshTokenRecord {
        grant: grant("c", None),
        issued_at: NOW,
        expires_at: NOW + 600,
    };
    store.save_refresh_token(&key, &record).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            store.use_refresh_token(&key, NOW).await.unwrap()
        }));
    }
    let mut firsts = 0;
    for t in tasks {
        if let Some(RefreshUse::First(_)) = t.await.unwrap() {
            firsts += 1;
        }
    }
    assert_eq!(
        firsts, 1,
        "exactly one concurrent user wins a refresh token"
    );
}

async fn revoking_a_grant_revokes_everything(store: &dyn Store) {
    let g = grant("c", None);
    let (at, rt, c) = (id("at"), id("rt"), id("code"));
    store
        .save_access_token(
            &at,
            &AccessTokenRecord {
                grant: g.clone(),
                issued_at: NOW,
                expires_at: NOW + 60,
            },
        )
        .await
        .unwrap();
    store
        .save_refresh_token(
            &rt,
            &RefreshTokenRecord {
                grant: g.clone(),
                issued_at: NOW,
                expires_at: NOW + 600,
            },
        )
        .await
        .unwrap();
    store
        .save_code(&c, &code(g.clone(), NOW + 60))
        .await
        .unwrap();
    // An unrelated grant survives.
    let other = id("at");
    store
        .save_access_token(
            &other,
            &AccessTokenRecord {
                grant: grant("c", None),
                issued_at: NOW,
                expires_at: NOW + 60,
            },
        )
        .await
        .unwrap();
    store.revoke_grant(&g.grant_id, NOW + 10_000).await.unwrap();

    assert!(
        store.find_access_token(&at, NOW).await.unwrap().is_none(),
        "grant's access token revoked"
    );
    assert!(
        store.find_refresh_token(&rt, NOW).await.unwrap().is_none(),
        "grant's refresh token revoked"
    );
    assert!(
        !matches!(
            store.use_refresh_token(&rt, NOW).await.unwrap(),
            Some(RefreshUse::First(_))
        ),
        "revoked refresh token unusable"
    );
    assert!(
        !matches!(
            store.consume_code(&c, NOW).await.unwrap(),
            Some(CodeUse::First(_))
        ),
        "revoked grant's code unusable"
    );
    assert!(
        store
            .find_access_token(&other, NOW)
            .await
            .unwrap()
            .is_some(),
        "other grants untouched"
    );
    // A token of the grant saved after the revocation (a race) is dead too.
    let late = id("at");
    store
        .save_access_token(
            &late,
            &AccessTokenRecord {
                grant: g.clone(),
                issued_at: NOW,
                expires_at: NOW + 60,
            },
        )
        .await
        .unwrap();
    assert!(
        store.find_access_token(&late, NOW).await.unwrap().is_none(),
        "a token saved after revocation is revoked"
    );
    let late_rt = id("rt");
    store
        .save_refresh_token(
            &late_rt,
            &RefreshTokenRecord {
                grant: g.clone(),
                issued_at: NOW,
                expires_at: NOW + 600,
            },
        )
        .await
        .unwrap();
    assert!(
        !matches!(
            store.use_refresh_token(&late_rt, NOW).await.unwrap(),
            Some(RefreshUse::First(_))
        ),
        "a refresh token saved after revocation is revoked"
    );
    // The revocation outlives a sweep until its horizon.
    store.sweep(NOW + 5_000).await.unwrap();
    assert!(
        store.find_access_token(&late, NOW).await.unwrap().is_none(),
        "revocation survives a sweep before its horizon"
    );
}
