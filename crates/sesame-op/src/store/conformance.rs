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
    AccessTokenRecord, Client, CodeRecord, CodeUse, Consent, Grant, Interaction, KeyState,
    RefreshTokenRecord, RefreshUse, StoredKey,
};

mod device;

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
    access_tokens(&*store).await;
    refresh_tokens_rotate_once(&*store).await;
    concurrent_refresh_use_has_one_winner(Arc::clone(&store)).await;
    revoking_a_grant_revokes_everything(&*store).await;
    sessions_and_jtis(&*store).await;
    consents(&*store).await;
    keys(&*store).await;
    concurrent_key_creation_has_one_winner(Arc::clone(&store)).await;
    interactions(&*store).await;
    sweep(&*store).await;
    session_clients_outlive_their_tokens(&*store).await;
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

async fn sessions_and_jtis(store: &dyn Store) {
    let sid = id("sid");
    let (a, b) = (id("client-a"), id("client-b"));
    store
        .save_code(&id("code"), &code(grant(&a, Some(&sid)), NOW + 60))
        .await
        .unwrap();
    store
        .save_access_token(
            &id("at"),
            &AccessTokenRecord {
                grant: grant(&b, Some(&sid)),
                issued_at: NOW,
                expires_at: NOW + 60,
            },
        )
        .await
        .unwrap();
    store
        .save_access_token(
            &id("at"),
            &AccessTokenRecord {
                grant: grant(&b, Some(&sid)),
                issued_at: NOW,
                expires_at: NOW + 60,
            },
        )
        .await
        .unwrap();
    store
        .save_access_token(
            &id("at"),
            &AccessTokenRecord {
                grant: grant("unrelated", Some("other-sid")),
                issued_at: NOW,
                expires_at: NOW + 60,
            },
        )
        .await
        .unwrap();
    let mut clients: Vec<String> = store
        .clients_of_session(&sid)
        .await
        .unwrap()
        .into_iter()
        .map(ClientId::into_string)
        .collect();
    clients.sort();
    let mut want = vec![a, b];
    want.sort();
    assert_eq!(clients, want, "clients of a session, each once");

    let jti = id("jti");
    assert!(
        store.remember_jti(&jti, NOW + 60).await.unwrap(),
        "first jti is new"
    );
    assert!(
        !store.remember_jti(&jti, NOW + 60).await.unwrap(),
        "second jti is a replay"
    );
}

async fn consents(store: &dyn Store) {
    let subject = Subject::new(id("user"));
    let client = ClientId::new(id("client"));
    let c = Consent {
        subject: subject.clone(),
        client_id: client.clone(),
        scopes: Scopes::parse("openid email").unwrap(),
        claims: vec!["name".into()],
        expires_at: NOW + 60,
    };
    assert!(
        store
            .find_consent(&subject, &client, NOW)
            .await
            .unwrap()
            .is_none()
    );
    store.save_consent(&c).await.unwrap();
    assert_eq!(
        store.find_consent(&subject, &client, NOW).await.unwrap(),
        Some(c.clone())
    );
    assert!(
        store
            .find_consent(&subject, &client, NOW + 60)
            .await
            .unwrap()
            .is_none(),
        "consent expires"
    );
    let wider = Consent {
        scopes: Scopes::parse("openid email profile").unwrap(),
        ..c.clone()
    };
    store.save_consent(&wider).await.unwrap();
    assert_eq!(
        store.find_consent(&subject, &client, NOW).await.unwrap(),
        Some(wider),
        "save replaces"
    );
    store.revoke_consent(&subject, &client).await.unwrap();
    assert!(
        store
            .find_consent(&subject, &client, NOW)
            .await
            .unwrap()
            .is_none()
    );
}

async fn keys(store: &dyn Store) {
    let kid = id("kid");
    let mut k = StoredKey {
        kid: kid.clone(),
        alg: JwsAlgorithm::ES256,
        private_pem: "-----BEGIN PRIVATE KEY-----\nMC4=\n-----END PRIVATE KEY-----\n".into(),
        state: KeyState::Next,
        created_at: NOW,
        state_changed_at: NOW,
    };
    store.save_key(&k).await.unwrap();
    assert!(
        store.list_keys().await.unwrap().contains(&k),
        "key round-trips"
    );
    k.state = KeyState::Active;
    k.state_changed_at = NOW + 1;
    store.save_key(&k).await.unwrap();
    let listed = store.list_keys().await.unwrap();
    assert_eq!(
        listed.iter().filter(|x| x.kid == kid).count(),
        1,
        "save replaces by kid"
    );
    assert!(listed.contains(&k));
    assert!(store.delete_key(&kid).await.unwrap());
    assert!(
        !store
            .list_keys()
            .await
            .unwrap()
            .iter()
            .any(|x| x.kid == kid)
    );
}

/// `add_key_if_missing`: of racing callers for one (alg, state), one adds.
/// HS384 because a provider never stores one, so no other key interferes.
async fn concurrent_key_creation_has_one_winner(store: Arc<dyn Store>) {
    let key = |kid: String| StoredKey {
        kid,
        alg: JwsAlgorithm::HS384,
        private_pem: "-----BEGIN PRIVATE KEY-----\nMC4=\n-----END PRIVATE KEY-----\n".into(),
        state: KeyState::Next,
        created_at: NOW,
        state_changed_at: NOW,
    };
    let mut tasks = Vec::new();
    let kids: Vec<String> = (0..8).map(|_| id("race-kid")).collect();
    for kid in &kids {
        let (store, k) = (Arc::clone(&store), key(kid.clone()));
        tasks.push(tokio::spawn(
            async move { store.add_key_if_missing(&k).await },
        ));
    }
    let mut added = 0;
    for t in tasks {
        added += usize::from(t.await.unwrap().unwrap());
    }
    assert_eq!(added, 1, "exactly one racing add_key_if_missing wins");
    let ours = |listed: &[StoredKey]| {
        listed
            .iter()
            .filter(|k| k.alg == JwsAlgorithm::HS384 && k.state == KeyState::Next)
            .count()
    };
    assert_eq!(ours(&store.list_keys().await.unwrap()), 1);
    assert!(
        !store
            .add_key_if_missing(&key(id("late-kid")))
            .await
            .unwrap(),
        "a taken state refuses a later key"
    );
    let mut other = key(id("retired-kid"));
    other.state = KeyState::Retired;
    assert!(
        store.add_key_if_missing(&other).await.unwrap(),
        "another state of the same algorithm is free"
    );
    for kid in kids.iter().chain([&other.kid]) {
        store.delete_key(kid).await.unwrap();
    }
    assert_eq!(ours(&store.list_keys().await.unwrap()), 0);
}

async fn interactions(store: &dyn Store) {
    let key = id("ix");
    let i = Interaction {
        kind: crate::model::InteractionKind::Consent,
        auth_after: None,
        params: vec![
            ("client_id".into(), "c".into()),
            ("scope".into(), "openid".into()),
        ],
        subject: Subject::new("alice"),
        csrf: "x".into(),
        expires_at: NOW + 60,
    };
    store.save_interaction(&key, &i).await.unwrap();
    assert_eq!(
        store.take_interaction(&key, NOW).await.unwrap(),
        Some(i.clone())
    );
    assert!(
        store.take_interaction(&key, NOW).await.unwrap().is_none(),
        "single use"
    );
    let old = id("ix");
    store.save_interaction(&old, &i).await.unwrap();
    assert!(
        store
            .take_interaction(&old, NOW + 60)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
}

async fn sweep(store: &dyn Store) {
    let key = id("at");
    store
        .save_access_token(
            &key,
            &AccessTokenRecord {
                grant: grant("c", None),
                issued_at: NOW,
                expires_at: NOW + 1,
            },
        )
        .await
        .unwrap();
    let live = id("at");
    store
        .save_access_token(
            &live,
            &AccessTokenRecord {
                grant: grant("c", None),
                issued_at: NOW,
                expires_at: NOW + 10_000_000,
            },
        )
        .await
        .unwrap();
    let removed = store.sweep(NOW + 100).await.unwrap();
    assert!(removed >= 1, "sweep removes expired records");
    assert!(
        store.find_access_token(&live, NOW).await.unwrap().is_some(),
        "sweep keeps live records"
    );
}

/// S5: the clients of a session are remembered after their codes and tokens
/// are swept (back-channel logout must still reach them), until the retention ends.
async fn session_clients_outlive_their_tokens(store: &dyn Store) {
    let sid = id("sid");
    let cid = id("rp");
    store
        .save_code(&id("code"), &code(grant(&cid, Some(&sid)), NOW + 60))
        .await
        .unwrap();
    store.sweep(NOW + 3_600).await.unwrap();
    assert_eq!(
        store.clients_of_session(&sid).await.unwrap(),
        vec![ClientId::new(&cid)],
        "a client whose code was swept is still a client of the session"
    );
    store
        .sweep(NOW + 61 + super::SESSION_CLIENT_RETENTION)
        .await
        .unwrap();
    assert!(
        store.clients_of_session(&sid).await.unwrap().is_empty(),
        "forgotten after the retention"
    );
}
